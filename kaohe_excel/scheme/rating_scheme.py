"""The scheme's rater-based evaluations (测评) and rater groups (测评人), read and checked.

Called once from scheme.load_scheme; problems go to its `_Problems` with sheet, row and
column, like every other scheme sheet. The frames land on `Scheme.ratings` and `Scheme.raters`.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from kaohe_excel.base.tables import clean_text

RATING_SHEET = "测评"
RATER_SHEET = "测评人"
RATING_COLUMNS = {"测评代码": "rating_code", "测评名称": "rating_name", "指标代码": "indicator_code", "评价方式": "mode",
                  "等级分值": "grades", "满分": "full", "去极值人数": "trim_above", "每票优秀上限": "top_limit",
                  "全同无效": "all_same_void", "参评率下限": "min_participation"}
RATING_REQUIRED = ["测评代码", "指标代码", "评价方式"]
RATER_COLUMNS = {"测评代码": "rating_code", "测评人类别": "rater_group", "权重": "weight", "应参评人数": "expected",
                 "评价对象": "targets", "收集方式": "collect"}
RATER_REQUIRED = ["测评代码", "测评人类别", "权重"]
MODES = {"等级": "grade", "打分": "score"}
COLLECT_ELECTRONIC, COLLECT_PAPER, COLLECT_TALLY = "电子票", "纸质票", "汇总"
COLLECTS = (COLLECT_ELECTRONIC, COLLECT_PAPER, COLLECT_TALLY)
RATING_SOURCE = "rating"
_GRADE_SEPARATORS = re.compile(r"[、,，;；\n]+")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

RATING_FRAME_COLUMNS = ["rating_code", "rating_name", "indicator_code", "mode", "grades", "full", "trim_above",
                        "top_limit_count", "top_limit_share", "all_same_void", "min_participation", "xlsx_row"]
RATER_FRAME_COLUMNS = ["rating_code", "rater_group", "weight", "expected", "targets", "collect", "xlsx_row"]


def empty_ratings() -> pd.DataFrame:
    return pd.DataFrame(columns=RATING_FRAME_COLUMNS)


def empty_raters() -> pd.DataFrame:
    return pd.DataFrame(columns=RATER_FRAME_COLUMNS)


def parse_grades(text: str) -> tuple[list[tuple[str, float]], str]:
    """「优秀=100、称职=80」→ [(优秀, 100), (称职, 80)], best first; or ([], why not)."""
    grades: list[tuple[str, float]] = []
    for part in _GRADE_SEPARATORS.split(text):
        part = part.strip()
        if not part:
            continue
        name, sep, points = part.replace("＝", "=").partition("=")
        name = name.strip()
        try:
            value = float(points.strip()) if sep else math.nan
        except ValueError:
            value = math.nan
        if not name or not sep or not math.isfinite(value):
            return [], f"「{part}」应写成 等级=分值（如 优秀=100）"
        if not 0 <= value <= 100:
            return [], f"「{part}」的分值应在 0–100 之间（百分制）"
        if any(name == g for g, _ in grades):
            return [], f"等级「{name}」重复"
        grades.append((name, value))
    if len(grades) < 2:
        return [], "至少要有两个等级，如 优秀=100、称职=80、基本称职=60、不称职=0"
    return grades, ""


def _number(value: object) -> tuple[float, bool]:
    """(number, bad): empty is (NaN, False)."""
    text = clean_text(value)
    if not text:
        return math.nan, False
    try:
        number = float(text)
    except ValueError:
        return math.nan, True
    return (number, False) if math.isfinite(number) else (math.nan, True)


def _top_limit(value: object, read_share, rule) -> tuple[float, float, str]:
    """(count, share, error) of 每票优秀上限: a whole count (3) or a share (20% / 0.2)."""
    text = clean_text(value)
    if not text:
        return math.nan, math.nan, ""
    if text.endswith(("%", "％")):
        reading = read_share(text.replace("％", "%"), rule)
        if reading.error or not reading.value > 0:
            return math.nan, math.nan, reading.error or f"应大于 0，现为「{text}」"
        return math.nan, reading.value, ""
    number, bad = _number(text)
    if bad or math.isnan(number) or number <= 0:
        return math.nan, math.nan, f"应为人数（如 3）或比例（如 20%），现为「{text}」"
    if number < 1:
        return math.nan, number, ""
    if not float(number).is_integer():
        return math.nan, math.nan, f"人数应为整数，比例请带 %（如 20%），现为「{text}」"
    return number, math.nan, ""


def parse_ratings(sheets, problems, indicators: pd.DataFrame, groups: list[str], table_rows, read_share,
                  share_rule, weight_rule, check_one_scale, split_groups, yes, no, all_groups) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 测评 and 测评人 sheets (both optional) as frames; every problem named by sheet, row and column.

    The scheme module's own helpers are passed in, so this module does not import it back.
    """
    ratings = table_rows(sheets, RATING_SHEET, RATING_COLUMNS, RATING_REQUIRED, problems, optional_sheet=True)
    raters = table_rows(sheets, RATER_SHEET, RATER_COLUMNS, RATER_REQUIRED, problems, optional_sheet=True)
    rating_indicators = set(indicators.loc[indicators["source"] == RATING_SOURCE, "indicator_code"])
    all_indicators = set(indicators["indicator_code"])
    out_ratings = []
    seen_codes: set[str] = set()
    used_indicators: dict[str, str] = {}
    for row in ratings.itertuples():
        code = clean_text(row.rating_code)
        where = f"测评「{code}」"
        at = row.xlsx_row
        col = lambda name, label: problems.column(RATING_SHEET, name, label)  # noqa: E731
        if not code:
            problems.add(RATING_SHEET, at, "「测评代码」不能为空")
        elif not _CODE.match(code):
            problems.add(RATING_SHEET, at, f"{where}的测评代码只能由字母、数字、下划线或短横线组成（不超过32个字符）")
        elif code in seen_codes:
            problems.add(RATING_SHEET, at, f"测评代码「{code}」重复")
        seen_codes.add(code)
        indicator = clean_text(row.indicator_code)
        if indicator not in all_indicators:
            problems.add(RATING_SHEET, at, f"{where}的{col('indicator_code', '指标代码')}「{indicator}」不在「指标」表中")
        elif indicator not in rating_indicators:
            problems.add(RATING_SHEET, at, f"{where}的指标「{indicator}」的数据来源不是 测评：请在「指标」表把它的「数据来源」改为 测评")
        elif indicator in used_indicators:
            problems.add(RATING_SHEET, at, f"指标「{indicator}」已由测评「{used_indicators[indicator]}」给出，一个指标只能对应一个测评")
        else:
            used_indicators[indicator] = code
        mode_text = clean_text(row.mode)
        mode = MODES.get(mode_text)
        if mode is None:
            problems.add(RATING_SHEET, at, f"{where}的{col('mode', '评价方式')}只能是 等级 或 打分，现为「{mode_text}」")
        grades_text = clean_text(row.grades)
        grades: list[tuple[str, float]] = []
        if mode == "grade":
            grades, why = parse_grades(grades_text) if grades_text else ([], "等级评价须填写，如 优秀=100、称职=80、基本称职=60、不称职=0")
            if why:
                problems.add(RATING_SHEET, at, f"{where}的{col('grades', '等级分值')}：{why}")
        elif mode == "score" and grades_text:
            problems.add(RATING_SHEET, at, f"{where}为打分评价，不使用{col('grades', '等级分值')}：请删去该格内容，或把评价方式改为 等级")
        full, bad = _number(row.full)
        if bad or (not math.isnan(full) and full <= 0):
            problems.add(RATING_SHEET, at, f"{where}的{col('full', '满分')}应为正数，现为「{clean_text(row.full)}」")
            full = math.nan
        if math.isnan(full):
            full = 100.0
        trim, bad = _number(row.trim_above)
        # 0 or 1 would trim a unit's only two marks away, leaving its group no mean: refused, not guessed
        if bad or (not math.isnan(trim) and (trim < 2 or not float(trim).is_integer())):
            problems.add(RATING_SHEET, at, f"{where}的{col('trim_above', '去极值人数')}应为不小于2的整数（有效评价多于这个人数时"
                         f"去掉一个最高分和一个最低分，写 0 或 1 会把只有两个评价的单位全部去掉；留空表示不去极值），"
                         f"现为「{clean_text(row.trim_above)}」")
            trim = math.nan
        count, share, why = _top_limit(row.top_limit, read_share, share_rule)
        if why:
            problems.add(RATING_SHEET, at, f"{where}的{col('top_limit', '每票优秀上限')}{why}")
        same_text = clean_text(row.all_same_void)
        if same_text not in yes and same_text not in no:
            problems.add(RATING_SHEET, at, f"{where}的{col('all_same_void', '全同无效')}只能填 是 或 否，现为「{same_text}」")
        reading = read_share(row.min_participation, share_rule)
        if reading.error:
            problems.add(RATING_SHEET, at, f"{where}的{col('min_participation', '参评率下限')}{reading.error}")
        out_ratings.append({
            "rating_code": code, "rating_name": clean_text(row.rating_name) or code, "indicator_code": indicator,
            "mode": mode or "grade", "grades": grades, "full": full, "trim_above": trim,
            "top_limit_count": count, "top_limit_share": share, "all_same_void": same_text in yes,
            "min_participation": reading.value, "xlsx_row": at,
        })
    for code in sorted(rating_indicators - set(used_indicators)):
        problems.add("指标", int(indicators.loc[indicators["indicator_code"] == code, "xlsx_row"].iloc[0]),
                     f"指标「{code}」的数据来源是 测评，但「{RATING_SHEET}」表中没有对应的测评：请在「{RATING_SHEET}」表添加一行（指标代码填 {code}）")
    ratings_frame = pd.DataFrame(out_ratings, columns=RATING_FRAME_COLUMNS)
    modes = dict(zip(ratings_frame["rating_code"], ratings_frame["mode"]))

    out_raters = []
    seen_groups: set[tuple[str, str]] = set()
    weight_cells: dict[str, list] = {}
    for row in raters.itertuples():
        code, group = clean_text(row.rating_code), clean_text(row.rater_group)
        at = row.xlsx_row
        where = f"测评「{code}」的测评人类别「{group}」"
        col = lambda name, label: problems.column(RATER_SHEET, name, label)  # noqa: E731
        if code not in modes:
            problems.add(RATER_SHEET, at, f"测评代码「{code}」不在「{RATING_SHEET}」表中")
        if not group:
            problems.add(RATER_SHEET, at, f"测评「{code}」的「测评人类别」不能为空")
        elif (code, group) in seen_groups:
            problems.add(RATER_SHEET, at, f"测评「{code}」的测评人类别「{group}」重复")
        seen_groups.add((code, group))
        reading = read_share(row.weight, weight_rule)
        if reading.error:
            problems.add(RATER_SHEET, at, f"{where}的{col('weight', '权重')}{reading.error}")
        elif not reading.value > 0:
            problems.add(RATER_SHEET, at, f"{where}的{col('weight', '权重')}应大于 0")
        weight_cells.setdefault(code, []).append((at, reading, clean_text(row.weight)))
        collect = clean_text(row.collect)
        if collect not in COLLECTS:
            problems.add(RATER_SHEET, at, f"{where}的{col('collect', '收集方式')}只能是 电子票、纸质票 或 汇总，现为「{collect}」")
        elif collect == COLLECT_TALLY and modes.get(code) == "score":
            problems.add(RATER_SHEET, at, f"{where}的收集方式为 汇总（只有各等级票数），只能用于等级评价；打分评价请用 电子票 或 纸质票")
        expected, bad = _number(row.expected)
        if bad or (not math.isnan(expected) and (expected < 1 or not float(expected).is_integer())):
            problems.add(RATER_SHEET, at, f"{where}的{col('expected', '应参评人数')}应为正整数，现为「{clean_text(row.expected)}」")
            expected = math.nan
        elif math.isnan(expected) and collect in (COLLECT_ELECTRONIC, COLLECT_PAPER):
            problems.add(RATER_SHEET, at, f"{where}须填写{col('expected', '应参评人数')}（{collect}按此编号、统计参评率）")
        targets_text = clean_text(row.targets)
        if not targets_text or targets_text == all_groups:
            targets = all_groups
        else:
            targets = split_groups(targets_text)
            for name in targets:
                if name not in groups:
                    problems.add(RATER_SHEET, at, f"{where}的{col('targets', '评价对象')}「{name}」不是单位表中的考核类别（{'、'.join(groups)}）")
        out_raters.append({"rating_code": code, "rater_group": group, "weight": reading.value, "expected": expected,
                           "targets": targets, "collect": collect, "xlsx_row": at})
    for code, cells in weight_cells.items():
        check_one_scale(cells, "其他测评人类别", weight_rule, "「权重」", RATER_SHEET, problems)
        values = [c[1].value for c in cells]
        if all(v == v for v in values) and abs(sum(values) - 1) > 1e-6:
            texts = "、".join(c[2] for c in cells)
            problems.add(RATER_SHEET, cells[0][0], f"测评「{code}」各测评人类别的权重（{texts}）合计应为 100（或 1），现合计 {sum(values) * 100:.6g}%")
    for rating in ratings_frame.itertuples():
        if rating.rating_code and rating.rating_code not in weight_cells:
            problems.add(RATING_SHEET, rating.xlsx_row, f"测评「{rating.rating_code}」在「{RATER_SHEET}」表中没有测评人类别，请至少添加一行")
    return ratings_frame, pd.DataFrame(out_raters, columns=RATER_FRAME_COLUMNS)


def rated_groups(targets, groups: list[str]) -> list[str]:
    return list(groups) if isinstance(targets, str) else list(targets)
