"""The sample's 民主测评 (issue 15): F05 领导班子民主测评得分 computed from ballots.

Three rater groups, as a county's 综合考核 has them: 县领导 on 电子票 (7 numbered ballot
workbooks), 干部职工 on 纸质票 (30 paper ballots the office typed into one entry workbook),
and 服务对象 as a survey company's 汇总 tally (only the 县直 groups have 服务对象).
The ballots are filled from their own seeded generator, so the other sample figures do not
move when the ballots do, and follow each unit's performance factor (a strong unit is rated
better). What the sample shows (each a 警告 only):
- 县领导 ballot 4 gives 优秀 to more units than 每票优秀上限 allows → void;
- 干部职工 paper ballot 17 rates every unit 称职 → void under 全同无效;
- 干部职工 paper ballot 26 was typed with its 票号 only → a blank ballot;
- a few abstentions (empty marks) on the other ballots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from openpyxl import load_workbook

from kaohe_excel.outputs.rating_template import write_rating_workbooks
from kaohe_excel.outputs.template import save_workbook_deterministic

RATING_CODE = "MZ"
INDICATOR = "F05"
GRADES = ["优秀", "称职", "基本称职", "不称职"]
GRADE_TEXT = "优秀=100、称职=80、基本称职=60、不称职=0"
TOP_LIMIT = "30%"  # of the 21 units on a ballot: floor(21 × 30%) = 6
LEADERS, STAFF, CLIENTS = "县领导", "干部职工", "服务对象"

RATING_HEADERS = ["测评代码", "测评名称", "指标代码", "评价方式", "等级分值", "满分", "去极值人数", "每票优秀上限",
                  "全同无效", "参评率下限", "说明"]
RATING_ROWS = [
    (RATING_CODE, "领导班子民主测评", INDICATOR, "等级", GRADE_TEXT, None, 5, TOP_LIMIT, "是", "80%",
     "按“(优秀票×100＋称职票×80＋基本称职票×60＋不称职票×0)÷有效票数”计算；某类测评人有效票多于5张的，去掉一个最高和一个最低后求平均；"
     "每张票评优秀的不超过票上单位数的30%，全部评为同一等次的，按无效票处理"),
]
RATER_HEADERS = ["测评代码", "测评人类别", "权重", "应参评人数", "评价对象", "收集方式", "说明"]
RATER_ROWS = [
    (RATING_CODE, LEADERS, 20, 7, "全部", "电子票", "县委、县政府领导班子成员，每人一份电子测评票"),
    (RATING_CODE, STAFF, 40, 30, "全部", "纸质票", "干部职工代表现场填写纸质票，考核办逐张录入"),
    (RATING_CODE, CLIENTS, 40, None, "县直经济部门、县直党群部门", "汇总", "第三方调查公司对县直部门服务对象的调查，只提供各等次票数"),
]

# The indicator now takes its value from the ballots; its method (相对最优) and points stay.
F05_ROW = ("F05", "班子和队伍建设", "综合评价", "领导班子民主测评得分", "分", "全部", 5, "相对最优", "正向",
           None, None, None, None, None, None, None, None, "测评", "县委组织部", None,
           "由县领导（权重20%）、干部职工（40%）和服务对象（40%，县直部门）民主测评得出测评得分（见「测评」「测评人」表），"
           "以同类别单位中测评得分最高者为满分基准，其余单位按与最高者的比值计分。")

VOID_TOP_BALLOT = (LEADERS, 4)
VOID_SAME_BALLOT = (STAFF, 17)
BLANK_BALLOT = (STAFF, 26)
_ABSTAIN = 0.02  # the share of marks a rater leaves empty


def indicator_rows(rows: list[tuple]) -> list[tuple]:
    """The sample's indicator rows with F05 fed by the 民主测评."""
    return [F05_ROW if row[0] == INDICATOR else row for row in rows]


def extend_sample_scheme(workbook, write_sheet) -> None:
    write_sheet(workbook, "测评", RATING_HEADERS, RATING_ROWS)
    write_sheet(workbook, "测评人", RATER_HEADERS, RATER_ROWS)


def _grades(perf: np.ndarray, bias: float, rng: np.random.Generator) -> list[str]:
    """One rater's grades for units with performance factors `perf`, within 每票优秀上限 as raters are told."""
    latent = perf + bias + rng.normal(0, 0.035, len(perf))
    index = np.select([latent > 1.02, latent > 0.92, latent > 0.85], [0, 1, 2], 3)
    limit = int(np.floor(len(perf) * 0.3 + 1e-9))
    top = np.flatnonzero(index == 0)
    if len(top) > limit:  # the rater keeps the 优秀 for the best-placed units
        index[top[np.argsort(-latent[top], kind="stable")[limit:]]] = 1
    return [GRADES[i] for i in index]


def _over_limit(grades: list[str], perf: np.ndarray) -> list[str]:
    """A generous rater: 优秀 for two more units than the limit allows (the best ones), 称职 at most for the rest."""
    limit = int(np.floor(len(perf) * 0.3 + 1e-9))
    best = set(np.argsort(-perf, kind="stable")[:limit + 2].tolist())
    return [GRADES[0] if i in best else GRADES[1] if g == GRADES[0] else g for i, g in enumerate(grades)]


def _marks(group: str, number: int, perf: np.ndarray, bias: float, rng: np.random.Generator) -> list[str | None]:
    grades = _grades(perf, bias, rng)
    abstain = rng.random(len(perf)) < _ABSTAIN
    if (group, number) == VOID_TOP_BALLOT:
        return _over_limit(grades, perf)
    if (group, number) == VOID_SAME_BALLOT:
        return [GRADES[1]] * len(perf)
    if (group, number) == BLANK_BALLOT:
        return [None] * len(perf)
    return [None if skip else g for g, skip in zip(grades, abstain)]


def _header(sheet, first: str) -> tuple[int, dict[int, str]]:
    for row in sheet.iter_rows(min_row=1, max_row=20):
        texts = {c.column: str(c.value).strip() for c in row if c.value is not None}
        if first in texts.values():
            return row[0].row, texts
    raise ValueError(f"header {first} not found in {sheet.title}")


def _fill_ballot(path: Path, number: int, perf: dict[str, float], rng) -> None:
    workbook = load_workbook(path)
    sheet = workbook["测评票"]
    header_row, texts = _header(sheet, "单位代码")
    cols = {text: col for col, text in texts.items()}
    rows = list(range(header_row + 1, sheet.max_row + 1))
    units = [str(sheet.cell(row=r, column=cols["单位代码"]).value) for r in rows]
    marks = _marks(LEADERS, number, np.array([perf[u] for u in units]), 0.02, rng)
    for r, mark in zip(rows, marks):
        sheet.cell(row=r, column=cols["评价"]).value = mark
    save_workbook_deterministic(workbook, path)


def _fill_paper(path: Path, perf: dict[str, float], rng) -> None:
    workbook = load_workbook(path)
    sheet = workbook["测评录入"]
    header_row, texts = _header(sheet, "票号")
    number_col = next(col for col, text in texts.items() if text == "票号")
    unit_cols = {col: text for col, text in texts.items() if text != "票号"}
    factors = np.array([perf[u] for u in unit_cols.values()])
    expected = sheet.max_row - header_row
    for offset in range(expected):
        number = offset + 1
        r = header_row + 1 + offset
        sheet.cell(row=r, column=number_col).value = number
        for col, mark in zip(unit_cols, _marks(STAFF, number, factors, 0.0, rng)):
            sheet.cell(row=r, column=col).value = mark
    save_workbook_deterministic(workbook, path)


def _fill_tally(path: Path, perf: dict[str, float], rng) -> None:
    workbook = load_workbook(path)
    sheet = workbook["测评汇总"]
    header_row, texts = _header(sheet, "单位代码")
    cols = {text: col for col, text in texts.items()}
    for r in range(header_row + 1, sheet.max_row + 1):
        unit = str(sheet.cell(row=r, column=cols["单位代码"]).value)
        top = float(np.clip(0.45 + 2.5 * (perf[unit] - 1.0), 0.1, 0.85))
        shares = np.array([top, (1 - top) * 0.78, (1 - top) * 0.18, (1 - top) * 0.04])
        votes = rng.multinomial(int(rng.integers(40, 61)), shares / shares.sum())
        for grade, count in zip(GRADES, votes):
            sheet.cell(row=r, column=cols[grade]).value = int(count)
    save_workbook_deterministic(workbook, path)


def write_sample_ballots(scheme, folder: str | Path, perf: dict[str, float], seed: int) -> list[Path]:
    """The 测评 workbooks `kaohe template` writes (signed with the scheme's key), filled as returned."""
    if not len(scheme.ratings):
        return []
    rng = np.random.default_rng([seed, 15])
    paths = write_rating_workbooks(scheme, folder)
    for path in paths:
        kind = path.name.split("_")[0]
        if kind == "测评票":
            _fill_ballot(path, int(path.stem.rsplit("_", 1)[1]), perf, rng)
        elif kind == "测评录入表":
            _fill_paper(path, perf, rng)
        else:
            _fill_tally(path, perf, rng)
    return paths


def fill_sample_ballots(context) -> list[Path]:
    """The sample inbox's 测评 workbooks (samples.county.build_sample_inputs)."""
    return write_sample_ballots(context.scheme, context.folder, context.perf, context.seed)
