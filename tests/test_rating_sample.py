"""The sample's 民主测评 (F05) recomputed by hand from the committed ballots in sample_inputs/.

The ballots are read with openpyxl and the published rules (domain.md 测评) applied in plain
Python: 优秀=100、称职=80、基本称职=60、不称职=0; a ballot with more than floor(21 × 30%) = 6 优秀
is void; a ballot whose marks (≥ 3) are all the same is void; a ballot without marks is blank;
a group with more than 5 valid marks for a unit drops one highest and one lowest; 汇总 is
Σ votes × points ÷ Σ votes; the groups are weighted 20/40/40, renormalized over the groups
that marked the unit. F05 is 相对最优 (分值 5) within the unit's 考核类别.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kaohe_excel.jobs.pipeline import read_and_validate, score_period
from kaohe_excel.scheme.workbook import load_scheme

ROOT = Path(__file__).resolve().parents[1]
INBOX = ROOT / "sample_inputs"
POINTS = {"优秀": 100, "称职": 80, "基本称职": 60, "不称职": 0}
TOP_LIMIT = 6  # floor(21 units × 30%)
TRIM_ABOVE = 5
WEIGHTS = {"县领导": 20, "干部职工": 40, "服务对象": 40}
ECON = ["JJ01", "JJ02", "JJ03", "JJ04", "JJ05", "JJ06"]


def half_up(x: float) -> float:
    return float(Decimal(str(round(x, 9))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _header(sheet, first: str) -> tuple[int, dict[str, int]]:
    for row in sheet.iter_rows(max_row=20):
        texts = {str(c.value).strip(): c.column for c in row if c.value is not None}
        if first in texts:
            return row[0].row, texts
    raise AssertionError(f"no header {first} in {sheet.title}")


def _electronic_ballots() -> list[dict[str, str]]:
    ballots = []
    for path in sorted(INBOX.glob("测评票_MZ_县领导_*.xlsx")):
        sheet = load_workbook(path)["测评票"]
        row, cols = _header(sheet, "单位代码")
        marks = {}
        for r in range(row + 1, sheet.max_row + 1):
            unit, mark = sheet.cell(r, cols["单位代码"]).value, sheet.cell(r, cols["评价"]).value
            if unit and mark not in (None, ""):
                marks[str(unit)] = str(mark).strip()
        ballots.append(marks)
    return ballots


def _paper_ballots() -> list[dict[str, str]]:
    sheet = load_workbook(INBOX / "测评录入表_MZ_干部职工.xlsx")["测评录入"]
    row, cols = _header(sheet, "票号")
    ballots = []
    for r in range(row + 1, sheet.max_row + 1):
        if sheet.cell(r, cols["票号"]).value in (None, ""):
            continue
        ballots.append({unit: str(sheet.cell(r, c).value).strip() for unit, c in cols.items()
                        if unit != "票号" and sheet.cell(r, c).value not in (None, "")})
    return ballots


def _tally() -> dict[str, float]:
    sheet = load_workbook(INBOX / "测评汇总表_MZ_服务对象.xlsx")["测评汇总"]
    row, cols = _header(sheet, "单位代码")
    means = {}
    for r in range(row + 1, sheet.max_row + 1):
        votes = {g: int(sheet.cell(r, cols[g]).value or 0) for g in POINTS}
        means[str(sheet.cell(r, cols["单位代码"]).value)] = sum(v * POINTS[g] for g, v in votes.items()) / sum(votes.values())
    return means


def _valid(ballots: list[dict[str, str]]) -> tuple[list[dict[str, str]], int, int]:
    """(valid ballots, how many void, how many blank)."""
    valid, void, blank = [], 0, 0
    for marks in ballots:
        if not marks:
            blank += 1
        elif sum(m == "优秀" for m in marks.values()) > TOP_LIMIT or (len(marks) >= 3 and len(set(marks.values())) == 1):
            void += 1
        else:
            valid.append(marks)
    return valid, void, blank


def _trimmed_mean(points: list[int]) -> float:
    if len(points) > TRIM_ABOVE:
        points = sorted(points)[1:-1]
    return sum(points) / len(points)


def _by_hand() -> tuple[dict[str, float], dict[str, int]]:
    leaders, leaders_void, leaders_blank = _valid(_electronic_ballots())
    staff, staff_void, staff_blank = _valid(_paper_ballots())
    # the sample shows each case: one void 电子票, one void and one blank paper ballot
    assert (leaders_void, leaders_blank, staff_void, staff_blank) == (1, 0, 1, 1)
    clients = _tally()
    values, staff_counts = {}, {}
    for unit in ECON:
        means = {}
        for group, valid in (("县领导", leaders), ("干部职工", staff)):
            points = [POINTS[b[unit]] for b in valid if unit in b]
            if points:
                means[group] = _trimmed_mean(points)
            if group == "干部职工":
                staff_counts[unit] = len(points)
        means["服务对象"] = clients[unit]
        values[unit] = half_up(sum(WEIGHTS[g] * m for g, m in means.items()) / sum(WEIGHTS[g] for g in means))
    return values, staff_counts


@pytest.fixture(scope="module")
def tool():
    scheme = load_scheme(ROOT / "templates" / "scheme.xlsx")
    validated = read_and_validate(scheme, INBOX)
    return scheme, validated, score_period(scheme, validated)


def test_sample_scheme_rating_rules_are_the_ones_recomputed_here(tool):
    scheme, _, _ = tool
    rating = scheme.ratings.set_index("rating_code").loc["MZ"]
    assert rating["indicator_code"] == "F05" and rating["mode"] == "grade"
    assert dict(rating["grades"]) == POINTS
    assert rating["trim_above"] == TRIM_ABOVE and rating["all_same_void"]
    assert int(21 * rating["top_limit_share"] + 1e-9) == TOP_LIMIT
    raters = scheme.raters.set_index("rater_group")
    assert {g: raters.loc[g, "weight"] * 100 for g in WEIGHTS} == pytest.approx(WEIGHTS)
    assert list(raters.loc["服务对象", "targets"]) == ["县直经济部门", "县直党群部门"]


def test_econ_department_f05_value_and_score_by_hand(tool):
    _, validated, results = tool
    values, staff_counts = _by_hand()
    tool_values = validated.values[validated.values["indicator_code"] == "F05"].set_index("unit_code")["value"]
    assert {u: float(tool_values[u]) for u in ECON} == values
    # 相对最优 within 县直经济部门: 5 × value ÷ the group's best value, half-up to 2 decimals
    best = max(values.values())
    scored = results.scored[results.scored["indicator_code"] == "F05"].set_index("unit_code")
    assert float(scored.loc["JJ01", "score"]) == half_up(5 * values["JJ01"] / best)
    assert f"干部职工 {staff_counts['JJ01']} 票有效" in scored.loc["JJ01", "explanation"]


def test_void_and_blank_paper_ballots_are_located_at_their_ballot_number_cell(tool):
    """The sample's paper ballots 17 (all the same) and 26 (blank) are found here by reading the
    entry sheet; each warning names that file, sheet 测评录入 and the 票号 cell of its row."""
    sheet = load_workbook(INBOX / "测评录入表_MZ_干部职工.xlsx")["测评录入"]
    row, cols = _header(sheet, "票号")
    expected = {}
    for r in range(row + 1, sheet.max_row + 1):
        number = sheet.cell(r, cols["票号"]).value
        if number in (17, 26, "17", "26"):
            expected[str(number)] = sheet.cell(r, cols["票号"]).coordinate
    assert set(expected) == {"17", "26"}
    _, validated, _ = tool
    issues = validated.issues_table
    void = issues[issues["code"] == "rating_void_ballot"]
    paper = void[void["file"] == "测评录入表_MZ_干部职工.xlsx"]
    located = {m.split("票号 ")[1].split("：")[0]: (s, c) for m, s, c in zip(paper["message"], paper["sheet"], paper["cell"])}
    assert located == {number: ("测评录入", cell) for number, cell in expected.items()}
    assert not void["file"].str.contains("行").any()  # the row is the cell, not a suffix of the file name


def test_rating_sheets_keep_a_units_rows_together_and_show_a_tally_group_without_ballots(tool, tmp_path):
    from kaohe_excel.outputs import report

    scheme, validated, results = tool
    path = report.write_summary(tmp_path / "汇总表.xlsx", scheme.meta, scheme.grades, results.scored, results.ranked,
                                results.adjustments, validated.values, validated.issues_table, validated.missing_units,
                                ratings=validated.ratings, scheme=scheme)
    book = load_workbook(path)
    rows = list(book["测评结果"].iter_rows(min_row=2))
    header = [c.value for c in rows[0]]
    units = [r[header.index("单位代码")].value for r in rows[1:]]
    groups = [r[header.index("测评人类别")].value for r in rows[1:]]
    order = [u for u in dict.fromkeys(units)]
    assert order == [u for u in scheme.units["unit_code"] if u in set(units)]  # the scheme's unit order
    # each unit's rows are contiguous, 县领导 → 干部职工 → 服务对象 (the 测评人 sheet's order)
    assert units == sorted(units, key=order.index)
    econ = [g for u, g in zip(units, groups) if u == "JJ01"]
    assert econ == ["县领导", "干部职工", "服务对象"]
    means = [r[header.index("平均分")] for r in rows[1:]]
    assert {c.number_format for c in means if c.value is not None} == {"0.00"}
    checks = [[c.value for c in r] for r in book["测评票校验"].iter_rows()]
    head = checks[1]
    clients = dict(zip(head, next(r for r in checks if r[1] == "服务对象")))
    assert (clients["收到票数"], clients["有效票"], clients["作废票"], clients["空白票"]) == ("—",) * 4
    assert clients["说明"] == "按各单位汇总票数计入"
    start = next(i for i, r in enumerate(checks) if "处理" in r)
    listed = [dict(zip(checks[start], r)) for r in checks[start + 1:] if r[0]]
    paper = {str(r["票号"]): r["位置"] for r in listed if r["文件"] == "测评录入表_MZ_干部职工.xlsx"}
    assert set(paper) == {"17", "26"} and all(p.startswith("测评录入!A") for p in paper.values())
    # the second table's file names fit: the 文件 column is at least as wide as its longest name
    width = book["测评票校验"].column_dimensions["D"].width
    assert width >= 2 * len("测评录入表_MZ_干部职工.xlsx") - 8
