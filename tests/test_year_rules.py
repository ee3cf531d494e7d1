"""Issue 16 (w-year): per-item 否决效果, per-group 优秀 quotas (类别), 公示 dates, 公示名单, status and seal --force.

Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date

import pandas as pd
import pytest
from docx import Document
from typer.testing import CliRunner

from conftest import make_inbox, scheme_with, small_scheme_sheets, write_workbook
from kaohe_excel.base import publication
from kaohe_excel.scoring import rank
from kaohe_excel.scoring import score
from kaohe_excel.cli import app
from kaohe_excel.base.errors import SchemeInvalid
from kaohe_excel.base.publication import Settings, window
from kaohe_excel.scheme.workbook import load_scheme

runner = CliRunner()
D = date
# the real 2025 春节 schedule: 1-28 … 2-4 off, Sunday 1-26 and Saturday 2-8 worked (调休)
SPRING_OFF = frozenset(D(2025, 1, 28) + pd.Timedelta(days=i).to_pytimedelta() for i in range(8))
SPRING_WORK = frozenset({D(2025, 1, 26), D(2025, 2, 8)})


# ------------------------------------------------------------------ working days

def test_five_working_days_from_a_friday_skip_the_weekend():
    # Fri 1-10 (1), Mon 1-13 (2), 1-14 (3), 1-15 (4), Thu 1-16 (5)
    win = window(Settings(days=5, written_on=D(2025, 1, 10)), D(2030, 1, 1))
    assert (win.issued_on, win.start, win.end) == (D(2025, 1, 10), D(2025, 1, 10), D(2025, 1, 16))
    assert publication.period_sentence(win) == "公示期：2025年1月10日至2025年1月16日"


def test_spring_festival_with_adjusted_weekend_workdays():
    settings = Settings(days=5, start_on=D(2025, 1, 24), off_days=SPRING_OFF, work_days=SPRING_WORK)
    # Fri 1-24 (1), Sat 1-25 off, Sun 1-26 调休 (2), Mon 1-27 (3), 1-28 … 2-4 off,
    # Wed 2-5 (4), Thu 2-6 (5)
    assert window(settings, D(2025, 1, 20)).end == D(2025, 2, 6)
    # 7 days: Fri 2-7 (6), Sat 2-8 调休 (7)
    assert window(Settings(days=7, start_on=D(2025, 1, 24), off_days=SPRING_OFF, work_days=SPRING_WORK),
                  D(2025, 1, 20)).end == D(2025, 2, 8)


def test_a_start_on_a_holiday_moves_to_the_next_working_day():
    # 1-29 is off; so is everything to 2-4 (Sat 2-1, Sun 2-2 included): start Wed 2-5,
    # then 2-6 (2), 2-7 (3), Sat 2-8 调休 (4), Mon 2-10 (5)
    win = window(Settings(days=5, written_on=D(2025, 1, 29), off_days=SPRING_OFF, work_days=SPRING_WORK),
                 D(2025, 1, 1))
    assert (win.issued_on, win.start, win.end) == (D(2025, 1, 29), D(2025, 2, 5), D(2025, 2, 10))


def test_defaults_are_the_run_date_and_five_days():
    # run on Sat 2025-03-01: start Mon 3-3, end Fri 3-7
    win = window(None, D(2025, 3, 1))
    assert (win.issued_on, win.start, win.end, win.days) == (D(2025, 3, 1), D(2025, 3, 3), D(2025, 3, 7), 5)


def test_scheme_reads_publication_rows_and_holidays(tmp_path):
    path = scheme_with(tmp_path, [("公示天数", 5), ("成文日期", "2025年1月24日"), ("异议受理", "请向县考核办反映")],
                       节假日=pd.DataFrame({"日期": ["2025-01-26", "2025-01-28"], "类型": ["上班", "休息"]}))
    settings = load_scheme(path).meta.publication
    assert settings.written_on == D(2025, 1, 24) and settings.objections == "请向县考核办反映"
    assert settings.work_days == {D(2025, 1, 26)} and settings.off_days == {D(2025, 1, 28)}
    # Fri 1-24 (1), Sun 1-26 (2), Mon 1-27 (3), Wed 1-29 (4), Thu 1-30 (5)
    assert window(settings, D(2030, 1, 1)).end == D(2025, 1, 30)


def test_bad_publication_cells_are_scheme_errors_with_their_place(tmp_path):
    path = scheme_with(tmp_path, [("公示天数", "五天"), ("成文日期", "下周一")],
                       节假日=pd.DataFrame({"日期": ["2025-01-28", "明天"], "类型": ["放假", "上班"]}))
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(path)
    text = str(caught.value) + "".join(str(p) for p in caught.value.problems)
    assert "「公示天数」应为 1–60 的整数" in text and "「成文日期」应为日期" in text
    assert "「类型」只能是 休息" in text and "现为「放假」" in text
    assert "「日期」（A列）应为日期" in text and "现为「明天」" in text


# ------------------------------------------------------------------ vetoes

def test_a_unit_with_two_vetoes_takes_the_strongest_effect():
    catalogue = pd.DataFrame({"item_code": ["F1", "F2", "F3"], "kind": ["veto"] * 3, "name": ["安全事故", "信访", "舆情"],
                              "step": [None] * 3, "item_cap": [None] * 3,
                              "veto_effect": ["no_excellent", "fail", ""]})
    claims = pd.DataFrame({"unit_code": ["A", "A", "B", "C"], "item_code": ["F1", "F2", "F1", "F3"],
                           "count": [1, 1, 1, 1]})
    adjustments = score.score_adjustments(claims, catalogue)
    units = pd.DataFrame({"unit_code": ["A", "B", "C", "E"], "unit_name": list("ABCE"), "group": ["g"] * 4})
    scored = pd.DataFrame({"unit_code": ["A", "B", "C", "E"], "score": [95.0, 95.0, 95.0, 70.0],
                           "points_available": [100.0] * 4})
    meta = type("Meta", (), {"total_mode": "raw", "bonus_cap": None, "veto_effect": "zero"})()
    totals = score.compute_totals(scored, adjustments, units, meta, catalogue=catalogue).set_index("unit_code")
    # A: 取消评优 and 定为不合格 → 定为不合格 (stronger); B: 取消评优 only; C: the item has no effect
    # of its own, so the 方案 value 总分清零 applies
    assert totals["veto_effect"].to_dict() == {"A": "fail", "B": "no_excellent", "C": "zero", "E": ""}
    assert totals["total"].to_dict() == {"A": 95.0, "B": 95.0, "C": 0.0, "E": 70.0}
    grades = pd.DataFrame({"grade": ["优秀", "良好", "合格", "不合格"], "min_score": [90, 80, 60, 0]})
    ranked = rank.rank_and_grade(totals.reset_index(), grades, excellent_quota=1.0, veto_effect="zero").set_index("unit_code")
    assert ranked["grade"].to_dict() == {"A": "不合格", "B": "良好", "C": "不合格", "E": "合格"}
    assert ranked.loc["A", "grade_note"] == "一票否决：定为不合格"
    assert ranked.loc["B", "grade_note"] == "一票否决：取消评优"


def test_veto_effect_column_is_checked(tmp_path):
    sheets = small_scheme_sheets()
    sheets["加扣分"]["否决效果"] = [None, "取消评优", "一票否优"]
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(write_workbook(tmp_path / "s.xlsx", sheets))
    text = "".join(str(p) for p in caught.value.problems)
    assert "「K1」不是否决项目，不使用「否决效果」（G列）" in text
    assert "「F1」的「否决效果」（G列）只能是 取消评优 / 定为不合格 / 总分清零" in text and "现为「一票否优」" in text


# ------------------------------------------------------------------ quotas

def totals_of(values, group="g"):
    return pd.DataFrame({"unit_code": [f"U{i}" for i in range(len(values))], "unit_name": [f"单位{i}" for i in range(len(values))],
                         "group": group, "total": values, "indicator_total": values, "vetoed": False, "veto_items": ""})


GRADES = pd.DataFrame({"grade": ["优秀", "良好", "合格"], "min_score": [90, 80, 0]})


def quota_rule(share, rounding="floor", at_least_one=False):
    return pd.DataFrame({"group": ["g"], "share": [share], "rounding": [rounding], "at_least_one": [at_least_one]})


def test_seven_units_forty_percent_rounded_half_up_gives_three():
    # 7 × 40% = 2.8 → 四舍五入 3 (向下取整 would give 2)
    out = rank.rank_and_grade(totals_of([99, 98, 97, 96, 95, 94, 93]), GRADES, excellent_quota=0.1,
                              group_quotas=quota_rule(0.4, "half_up"))
    assert out["grade"].tolist() == ["优秀"] * 3 + ["良好"] * 4
    assert out["quota"].iloc[0] == 3
    assert out["grade_note"].iloc[3] == "达到优秀分数线，受优秀比例限制（本类别优秀名额3个）"


def test_five_units_ten_percent_floor_gives_none_and_at_least_one_gives_one():
    # 5 × 10% = 0.5 → 向下取整 0; with 至少一名 (a unit reaches 90) → 1
    values = [95, 91, 85, 70, 60]
    none = rank.rank_and_grade(totals_of(values), GRADES, group_quotas=quota_rule(0.1))
    assert none["grade"].tolist() == ["良好", "良好", "良好", "合格", "合格"]
    one = rank.rank_and_grade(totals_of(values), GRADES, group_quotas=quota_rule(0.1, at_least_one=True))
    assert one["grade"].tolist() == ["优秀", "良好", "良好", "合格", "合格"]
    # nobody reaches 90: 至少一名 gives no 名额
    low = rank.rank_and_grade(totals_of([85, 80, 70, 60, 50]), GRADES, group_quotas=quota_rule(0.1, at_least_one=True))
    assert low["quota"].iloc[0] == 0


def test_other_groups_keep_the_scheme_quota():
    frame = pd.concat([totals_of([99, 98, 97, 96, 95], "g"), totals_of([99, 98, 97, 96, 95], "h")], ignore_index=True)
    frame["unit_code"] = [f"X{i}" for i in range(10)]
    out = rank.rank_and_grade(frame, GRADES, excellent_quota=0.2, group_quotas=quota_rule(0.4))
    # g: 5 × 40% = 2; h: 5 × 20% = 1 (方案)
    assert out.groupby("group")["grade"].apply(lambda g: (g == "优秀").sum()).to_dict() == {"g": 2, "h": 1}


def test_group_quota_sheet_is_read_and_checked(tmp_path):
    good = scheme_with(tmp_path, 类别=pd.DataFrame({"考核类别": ["乡镇"], "优秀比例上限": ["40%"], "名额取整": ["四舍五入"],
                                                  "至少一名": ["是"]}))
    quotas = load_scheme(good).group_quotas
    assert quotas.to_dict("records") == [{"group": "乡镇", "share": 0.4, "rounding": "half_up", "at_least_one": True}]
    bad = scheme_with(tmp_path, 类别=pd.DataFrame({"考核类别": ["街道", "乡镇"], "优秀比例上限": ["40%", "2"],
                                                 "名额取整": ["进一法", ""], "至少一名": ["", "可以"]}))
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(bad)
    problems = [(sheet, row, text) for sheet, row, text in caught.value.problems]
    text = "".join(t for _, _, t in problems)
    assert ("类别", 2, "考核类别「街道」没有任何单位（单位表中的类别：乡镇、部门）") in problems
    assert "「名额取整」（C列）只能是 向下取整 或 四舍五入，现为「进一法」" in text
    assert "「至少一名」（D列）只能填 是 或 否，现为「可以」" in text
    assert any(sheet == "类别" and row == 3 and "「优秀比例上限」（B列）" in t for sheet, row, t in problems)


# ------------------------------------------------------------------ run, 公示名单, status, seal

@pytest.fixture
def year_run(tmp_path):
    path = scheme_with(tmp_path, [("成文日期", "2025-01-24"), ("公示天数", 5)],
                       节假日=pd.DataFrame({"日期": ["2025-01-26", "2025-01-28", "2025-01-29"], "类型": ["上班", "休息", "休息"]}))
    inbox = make_inbox(tmp_path / "inbox", load_scheme(path))
    out = tmp_path / "outputs"
    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_the_publicity_list_and_records_the_window(year_run):
    folder = year_run / "2024"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    # Fri 1-24 (1), Sun 1-26 调休 (2), Mon 1-27 (3), 1-28/1-29 off, Thu 1-30 (4), Fri 1-31 (5)
    assert manifest["issued_on"] == "2025-01-24"
    assert manifest["publication"] == {"start": "2025-01-24", "end": "2025-01-31", "days": 5}
    assert "公示名单.docx" in {f["path"] for f in manifest["files"]}
    doc = Document(str(folder / "公示名单.docx"))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "公示期：2025年1月24日至2025年1月31日" in text
    assert "请以书面形式向测试县考核办反映" in text and "2025年1月24日" in text
    cells = [[c.text for c in row.cells] for table in doc.tables for row in table.rows]
    assert ["名次", "单位", "总分", "等次"] in cells
    assert any(row[1] == "东城镇" for row in cells)
    notice = "\n".join(p.text for p in Document(str(folder / "通报.docx")).paragraphs)
    assert "2025年1月24日" in notice and "优秀名额：乡镇2个单位，优秀比例上限50%（向下取整），优秀名额1个。" in notice
    verified = runner.invoke(app, ["verify", "2024", "--out", str(year_run)])
    assert verified.exit_code == 0, verified.output


def test_status_and_seal_force(year_run, monkeypatch):
    import kaohe_excel.outputs.period_status as status

    class During(date):
        @classmethod
        def today(cls):
            return date(2025, 1, 31)  # the last day of the 公示 is still within it

    monkeypatch.setattr(status, "date", During)
    listed = runner.invoke(app, ["status", "--out", str(year_run)], terminal_width=200)
    assert listed.exit_code == 0 and "公示中（至2025年1月31日）" in listed.output
    refused = runner.invoke(app, ["seal", "2024", "--out", str(year_run)], terminal_width=300)
    assert refused.exit_code == 2
    assert "公示期至2025年1月31日结束，尚未期满" in " ".join(refused.output.split()).replace(" ", "")
    assert not (year_run / "2024" / "SEALED.json").exists()

    class After(date):
        @classmethod
        def today(cls):
            return date(2025, 2, 1)

    monkeypatch.setattr(status, "date", After)
    assert "公示期满" in runner.invoke(app, ["status", "--out", str(year_run)], terminal_width=200).output
    monkeypatch.setattr(status, "date", During)
    forced = runner.invoke(app, ["seal", "2024", "--out", str(year_run), "--force"])
    assert forced.exit_code == 0 and "已封存" in forced.output
    assert "已封存" in runner.invoke(app, ["status", "--out", str(year_run)], terminal_width=200).output


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftoppm")), reason="LibreOffice not installed")
def test_publicity_list_renders_to_a_page(year_run, tmp_path):
    source = year_run / "2024" / "公示名单.docx"
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "公示名单.pdf"
    assert pdf.is_file()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "p")], check=True, timeout=60)
    assert list(tmp_path.glob("p*.png"))


def test_the_notice_says_who_lost_excellent_and_why(tmp_path):
    from kaohe_excel.outputs.publicity import quota_lines

    path = scheme_with(tmp_path, 类别=pd.DataFrame({"考核类别": ["乡镇"], "优秀比例上限": ["10%"], "名额取整": [""],
                                                  "至少一名": [""]}))
    scheme = load_scheme(path)
    frame = pd.DataFrame({"unit_code": ["T01", "T02", "D01", "D02"], "unit_name": ["东城镇", "西山乡", "发改局", "财政局"],
                          "group": ["乡镇", "乡镇", "部门", "部门"], "total": [95.0, 92.0, 96.0, 93.0],
                          "indicator_total": [95.0, 92.0, 96.0, 93.0], "vetoed": [False, False, True, False],
                          "veto_items": ["", "", "重大安全事故", ""]})
    ranked = rank.rank_and_grade(frame, scheme)
    lines = quota_lines(scheme, ranked)
    # 乡镇: 2 × 10% = 0.2 → 0 (向下取整); 部门: 方案 50%, 2 × 50% = 1, 发改局 vetoed (取消评优) → 财政局 优秀
    assert lines["乡镇"] == ("优秀名额：乡镇2个单位，优秀比例上限10%（向下取整），优秀名额0个。"
                           "未评为优秀的：东城镇（达到优秀分数线，超出名额）、西山乡（达到优秀分数线，超出名额）。")
    assert lines["部门"] == ("优秀名额：部门2个单位，优秀比例上限50%（向下取整），优秀名额1个。"
                           "未评为优秀的：发改局（一票否决：取消评优）。")
    assert ranked.set_index("unit_code")["grade"].to_dict() == {"T01": "良好", "T02": "良好", "D01": "良好", "D02": "优秀"}


def test_publicity_list_pages_like_the_notice(year_run):
    """Printed as the office hands it over: the title breaks between words, each group's table ends its keep
    chain (else all tables are chained and the first page is left nearly empty), and the signature takes the
    last lines of the text with it instead of standing alone on a page."""
    doc = Document(str(year_run / "2024" / "公示名单.docx"))
    title = doc.paragraphs[0]
    lines = "".join(r.text if r.text else "\n" for r in title.runs).split("\n")
    assert len(lines) == 1 or all(not (a.endswith("责") and b.startswith("任")) for a, b in zip(lines, lines[1:]))
    body = doc.element.body
    tables = body.findall("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tbl")
    assert tables
    for table in tables:
        after = table.getnext()
        keep = after.find(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}keepNext")
        assert after.tag.endswith("}p") and keep is None  # a plain paragraph: the chain stops at the table's end
    texts = [p.text for p in doc.paragraphs]
    objection = next(p for p in doc.paragraphs if "异议" in p.text)
    assert objection.paragraph_format.keep_with_next and texts.index(objection.text) < len(texts) - 2
