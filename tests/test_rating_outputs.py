"""测评 in what units read: each unit's own 测评情况 block in its feedback workbook and the
notice's participation sentence; every figure computed by hand here, and no ballot or rater shown."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from conftest import fill_ballot, fill_paper, fill_tally, rating_sheets, write_workbook
from kaohe_excel.outputs import notice
from kaohe_excel.outputs import report
from kaohe_excel.jobs.pipeline import read_and_validate, score_period
from kaohe_excel.outputs.rating_template import write_rating_workbooks
from kaohe_excel.scheme.workbook import load_scheme

OPINION = "测评人甲的意见：建议加强作风建设"


@pytest.fixture
def outcome(tmp_path: Path):
    """The scheme of test_rating (民主测评 M1 → indicator R1, 分值 10, 完成率 目标值 100):
    县领导 电子票 ×5 (weight 20%), 干部职工 纸质票 ×4 (40%), 服务对象 汇总 for 部门 only (40%)."""
    scheme = load_scheme(write_workbook(tmp_path / "scheme.xlsx", rating_sheets()))
    inbox = tmp_path / "inbox"
    paths = {p.name: p for p in write_rating_workbooks(scheme, inbox)}
    ballots = {  # T01, T02, D01, D02; at most floor(4 × 50%) = 2 优秀 a ballot
        1: ["优秀", None, "优秀", "基本称职"],  # valid
        2: ["优秀", "优秀", "优秀", "称职"],  # 3 优秀: void
        3: ["称职", "称职", "称职", "称职"],  # all the same: void
        4: [None, None, None, None],  # blank
        5: ["称职", None, "优秀", "不称职"],  # valid
    }
    for number, marks in ballots.items():
        fill_ballot(paths[f"测评票_M1_县领导_{number}.xlsx"], marks)
    # a rater's own words on ballot 1: they must never reach a unit
    book = load_workbook(paths["测评票_M1_县领导_1.xlsx"])
    book["测评票"].cell(row=4, column=5).value = OPINION
    book.save(paths["测评票_M1_县领导_1.xlsx"])
    fill_paper(paths["测评录入表_M1_干部职工.xlsx"], [
        [1, "优秀", "称职", "称职", "称职"],
        [2, "称职", "基本称职", "称职", "不称职"],
        [3, "称职", "基本称职", "基本称职", None],
        [4, "基本称职", "优秀", "优秀", "称职"],
    ])
    fill_tally(paths["测评汇总表_M1_服务对象.xlsx"], [[6, 3, 1, 0], [0, 2, 1, 1]])  # D01, D02
    validated = read_and_validate(scheme, inbox)
    return scheme, validated, score_period(scheme, validated)


def _rows(path: Path, sheet: str) -> list[dict]:
    values = list(load_workbook(path)[sheet].iter_rows(values_only=True))
    header = values[1]
    return [dict(zip(header, r)) for r in values[2:] if r[0] is not None and r[1] is not None]


def _all_cells(path: Path) -> list[str]:
    book = load_workbook(path)
    return [str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None]


def test_feedback_shows_the_units_own_group_means_value_and_score(outcome, tmp_path):
    scheme, validated, results = outcome
    paths = report.write_all_feedback(tmp_path / "反馈", scheme.meta, results.scored, results.ranked, workers=1,
                                      ratings=validated.ratings, scheme=scheme)
    d01 = next(p for p in paths if p.name.startswith("D01"))
    assert "测评情况" in load_workbook(d01).sheetnames
    rows = {r["测评人类别"]: r for r in _rows(d01, "测评情况")}
    # 县领导: ballots 1 and 5 are valid, D01 got 优秀 on both → 2 marks, (100 + 100) / 2 = 100
    # 干部职工: 4 paper marks 100, 80, 60, 80; more than 去极值人数 3 → drop 100 and 60 → (80 + 80) / 2 = 80
    # 服务对象 (汇总): 6 优秀, 3 称职, 1 基本称职 → 10 votes, (600 + 240 + 60) / 10 = 90
    assert {g: (r["有效票数"], r["平均分"], r["权重"]) for g, r in rows.items()} == {
        "县领导": (2, 100, "20%"), "干部职工": (4, 80, "40%"), "服务对象": (10, 90, "40%")}
    assert rows["干部职工"]["去掉的评价"] == "最高 100、最低 60"
    assert not rows["县领导"]["去掉的评价"]
    # value 0.2 × 100 + 0.4 × 80 + 0.4 × 90 = 88; R1 scores 10 × 88 / 100 = 8.8 of 10
    assert {(r["测评值"], r["指标得分"], r["指标分值"], r["计入指标"]) for r in rows.values()} == {(88, 8.8, 10, "民主测评")}

    # T02 (乡镇): 服务对象 does not rate it; 县领导 gave it no mark; 干部职工 80, 60, 60, 100 → drop
    # 100 and 60 → 70; the weights renormalize to 干部职工 alone: value 70, score 7
    t02 = {r["测评人类别"]: r for r in _rows(next(p for p in paths if p.name.startswith("T02")), "测评情况")}
    assert set(t02) == {"县领导", "干部职工"}
    assert t02["县领导"]["有效票数"] == 0 and t02["县领导"]["平均分"] is None
    assert "权重不计" in t02["县领导"]["说明"]
    assert (t02["干部职工"]["平均分"], t02["干部职工"]["测评值"], t02["干部职工"]["指标得分"]) == (70, 70, 7)


def test_no_feedback_names_a_ballot_or_a_rater(outcome, tmp_path):
    scheme, validated, results = outcome
    paths = report.write_all_feedback(tmp_path / "反馈", scheme.meta, results.scored, results.ranked, workers=2,
                                      ratings=validated.ratings, scheme=scheme)
    assert len(paths) == 4
    for path in paths:
        cells = _all_cells(path)
        text = "\n".join(cells)
        assert "测评情况" in load_workbook(path).sheetnames  # every unit is rated (written by the worker pool)
        assert "票号" not in text
        assert "测评票_" not in text and "测评录入表" not in text and "测评汇总表" not in text
        assert OPINION not in text and "测评人甲" not in text
        assert "作废" not in text and "空白票" not in text  # the void ballots are the summary's business


def test_without_ratings_the_feedback_has_no_rating_sheet(outcome, tmp_path):
    scheme, validated, results = outcome
    path = report.write_feedback(tmp_path / "D01.xlsx", scheme.meta, "D01", results.scored, results.ranked)
    assert "测评情况" not in load_workbook(path).sheetnames
    path = report.write_feedback(tmp_path / "D01b.xlsx", scheme.meta, "D01", results.scored, results.ranked,
                                 ratings=validated.ratings, scheme=scheme)
    assert [r["测评人类别"] for r in _rows(path, "测评情况")] == ["县领导", "干部职工", "服务对象"]


def _opening(path: Path) -> str:
    texts = [p.text for p in Document(str(path)).paragraphs]
    return next(t for t in texts if t.startswith("根据"))


def test_notice_states_participation(outcome, tmp_path):
    scheme, validated, results = outcome
    path = notice.write_notice(tmp_path / "通报.docx", None, scheme.meta, results.ranked, scheme.grades,
                               date(2025, 1, 15), ratings=validated.ratings, scheme=scheme)
    opening = _opening(path)
    # 发放 = 应参评人数 5 + 4 = 9; valid 2 (县领导 1 and 5) + 4 = 6; 6 / 9 = 66.7%;
    # 县领导 2 / 5 = 40.0%, 干部职工 4 / 4 = 100.0%; 服务对象 has vote counts only, no ballots
    sentence = ("民主测评共发放测评票9张，收回有效票6张，参评率66.7%（县领导发放5张、有效2张，参评率40.0%；"
                "干部职工发放4张、有效4张，参评率100.0%）；服务对象评价按汇总票数计入。")
    assert sentence + "现将考核结果通报如下：" in opening
    plain = notice.write_notice(tmp_path / "通报_无测评.docx", None, scheme.meta, results.ranked, scheme.grades,
                                date(2025, 1, 15))
    assert "测评" not in _opening(plain) and _opening(plain).endswith("评定了考核等次。现将考核结果通报如下：")


def test_a_run_writes_the_rating_block_and_the_participation_sentence(outcome, tmp_path):
    # the same figures reach the files `kaohe run` writes, not only the writers called directly
    from kaohe_excel.jobs import pipeline

    scheme, _, _ = outcome
    root = Path(__file__).resolve().parent.parent
    done = pipeline.run(tmp_path / "inbox", tmp_path / "scheme.xlsx", out_root=tmp_path / "out", allow_errors=True,
                        workers=1, issued_on=date(2025, 1, 15), template_dir=root / "templates")
    feedback = sorted((done.folder / "反馈").glob("D01_*.xlsx"))
    assert len(feedback) == 1 and "测评情况" in load_workbook(feedback[0]).sheetnames
    assert "民主测评共发放测评票9张，收回有效票6张" in _opening(done.folder / "通报.docx")
