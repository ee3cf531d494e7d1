"""The scheme workbook (考核方案): load it, check it against the contract in domain.md,
and expand it into one row per unit × applicable indicator.

Every problem found is collected; a scheme with any problem raises `SchemeInvalid`
listing each sheet, row and what to fix, so the office fixes them all in one pass.

What the scheme cannot mean is never guessed:
- numbers: a cell of a numeric column that is not a number (text, TRUE, "1e400", "inf",
  "nan") is an error at its cell, never read as empty;
- shares (基本分比例, 上限系数, 优秀比例上限, 档次表 下限 and 得分比例, 权重, 核对容差) all
  follow `read_share`: with % they are percent, bare numbers up to the parameter's ratio
  limit are ratios, bare numbers from 5 to 100 × that limit are percent, anything else is
  an error; one 档次表 (or one group's 权重) mixing bare ratios and bare percents is an error;
- 等次 from the top grade down with strictly falling 最低分, the lowest at 0 (or below);
- 档次表: no repeated 下限 or 等级, a higher 下限 never gives a lower 得分比例;
- 权重: every group with units gets weights (its own rows, else the rows without 考核类别)
  that sum to 100% and cover every 一级指标 it has indicators in, and no weight sits on a
  一级指标 without indicators for that group; weights are kept in percent points (sum 100);
- a parameter the indicator's method never reads (档次表, 上限系数, 不允许值, 每项分值) is an
  error rather than silently ignored.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from .errors import SchemeInvalid, SchemeNotFound
from .memory import release_unused
from .publication import Settings as PublicationSettings
from .publication import parse_settings as parse_publication
from .tables import clean_text, column_letter, display_text, header_key, locate_table
from . import methods as _methods
from . import rating_scheme as _rating_scheme

DIRECTIONS = {"正向": "higher", "反向": "lower", "": "higher"}
SOURCES = {"自报": "self", "评定": "assessed", "平时": "interim", "测评": "rating", "": "self"}
MISSING_RULES = {"归一化": "normalize", "均值": "mean", "": "normalize"}
TOTAL_MODES = {"百分制": "percent", "原始分": "raw", "": "raw"}
VETO_EFFECTS = {"取消评优": "no_excellent", "定为不合格": "fail", "总分清零": "zero", "": "no_excellent"}
ADJUSTMENT_KINDS = {"加分": "bonus", "扣分": "deduction", "否决": "veto"}
YES = {"是", "Y", "y", "yes", "YES", "1", "√", "TRUE", "True", "true"}
NO = {"否", "N", "n", "no", "NO", "0", "", "FALSE", "False", "false"}
UNIT_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
GROUP_SEPARATORS = re.compile(r"[、,，;；\s]+")
ALL_GROUPS = "全部"

# Chinese header -> code name, per sheet. Required headers first; the rest are optional.
INDICATOR_COLUMNS = {
    "指标代码": "indicator_code", "一级指标": "category", "二级指标": "subcategory", "指标名称": "name",
    "计量单位": "measure_unit", "适用类别": "groups", "分值": "points", "计分方法": "method", "方向": "direction",
    "基本值": "base", "目标值": "target", "满分值": "full", "不允许值": "floor", "基本分比例": "base_share",
    "上限系数": "cap", "每项分值": "step", "档次表": "tier_table", "数据来源": "source", "牵头单位": "lead_unit",
    "评分说明": "description", "缺项处理": "missing_rule",
    # extensions of the contract (optional columns): cross-check tolerance and the county figure
    "核对容差": "tolerance", "全县总量": "county_total",
    "来源周期": "source_periods",  # w-interim: the archived periods a 平时 indicator averages
}
INDICATOR_REQUIRED = ["指标代码", "指标名称", "适用类别", "分值", "计分方法"]
PARAMETER_COLUMNS = ["base", "target", "full", "floor"]
# the 指标 columns checked against each method's parameter requirements (kaohe_excel/methods/), in
# the order problems are listed; a parameter a method does not allow would be ignored if filled
METHOD_PARAMETERS = ["tier_table", "cap", "floor", "step", "target", "base", "full", "base_share"]
_REQUIRED_HINT = {"step": "（每差1个单位扣的分）"}
NUMERIC_INDICATOR_COLUMNS = ["points", "base", "target", "full", "floor", "base_share", "cap", "step", "county_total"]
UNIT_COLUMNS = {"单位代码": "unit_code", "单位名称": "unit_name", "考核类别": "group", "联系人": "contact", "邮箱": "email"}
TARGET_COLUMNS = {"单位代码": "unit_code", "指标代码": "indicator_code", "基本值": "base", "目标值": "target",
                  "满分值": "full", "不允许值": "floor", "不考核": "exempt"}
TIER_COLUMNS = {"档次表": "tier_table", "下限": "lower", "等级": "level", "得分比例": "share"}
WEIGHT_COLUMNS = {"一级指标": "category", "权重": "weight", "考核类别": "group"}
ADJUSTMENT_COLUMNS = {"项目代码": "item_code", "类型": "kind", "项目名称": "name", "每项分值": "step",
                      "单项上限": "item_cap", "需佐证": "needs_evidence", "否决效果": "veto_effect"}
# w-year: a group's own 优秀 quota (类别) and the 公示 calendar (节假日)
GROUP_QUOTA_COLUMNS = {"考核类别": "group", "优秀比例上限": "share", "名额取整": "rounding", "至少一名": "at_least_one"}
QUOTA_ROUNDINGS = {"向下取整": "floor", "四舍五入": "half_up", "": "floor"}
HOLIDAY_COLUMNS = {"日期": "day", "类型": "kind"}
GRADE_COLUMNS = {"等次": "grade", "最低分": "min_score"}
# 方案 rows beyond META_KEYS printed as written in the notice (主送, 版头 and 版记 lines)
SHOWN_META_EXTRA = {"主送", "抄送", "印发机关", "发文机关标志"}
META_KEYS = {
    "考核名称": "name", "考核周期": "period", "周期类型": "period_type", "发文机关": "issuer", "文号": "doc_number",
    "总分折算": "total_mode", "加分上限": "bonus_cap", "优秀比例上限": "excellent_quota", "否决效果": "veto_effect",
    "领导邮箱": "leader_emails", "整改分数线": "rectify_below",
    "公示天数": "publication_days", "成文日期": "written_on", "公示开始日期": "publication_start", "异议受理": "objections",
}


@dataclass
class SchemeMeta:
    name: str
    period: str
    period_type: str = "年度"
    issuer: str = ""
    doc_number: str = ""
    total_mode: str = "raw"
    bonus_cap: float | None = None
    excellent_quota: float = 1.0
    veto_effect: str = "no_excellent"
    leader_emails: list[str] = field(default_factory=list)
    rectify_below: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    publication: PublicationSettings = field(default_factory=PublicationSettings)


@dataclass
class Scheme:
    meta: SchemeMeta
    grades: pd.DataFrame
    units: pd.DataFrame
    indicators: pd.DataFrame
    unit_targets: pd.DataFrame
    tier_tables: pd.DataFrame
    weights: pd.DataFrame
    adjustments: pd.DataFrame
    fingerprint: str
    path: Path | None = None
    # [group, share, rounding, at_least_one] of the groups listed in 类别 (the others use 方案's quota)
    group_quotas: pd.DataFrame | None = None
    # w-rating: the 测评 and 测评人 sheets (rating_scheme); empty frames when the scheme has none
    ratings: pd.DataFrame = field(default_factory=lambda: _rating_scheme.empty_ratings())
    raters: pd.DataFrame = field(default_factory=lambda: _rating_scheme.empty_raters())

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.units["group"]))

    def assignments(self) -> pd.DataFrame:
        """One row per unit × applicable indicator with effective parameters (目标分解 applied)."""
        return _assignments(self)

    def unit_names(self) -> dict[str, str]:
        return dict(zip(self.units["unit_code"], self.units["unit_name"]))


# ---------------------------------------------------------------- parsing helpers

def parse_number(value: object) -> float:
    """A number from a scheme cell; "20%" → 20.0 (percent points); empty, junk, inf → NaN.

    The loader itself reads numbers through `_read_number`, which also reports junk.
    """
    number, _bad = _read_number(value)
    return number


def _read_number(value: object) -> tuple[float, bool]:
    """(number, unreadable): "20%" → 20.0 (percent points); empty → (NaN, False).

    Text that is not a number, TRUE/FALSE, and non-finite values ("1e400", "inf", "nan"
    typed as text) are unreadable: a scheme cell that means nothing must not pass as empty.
    """
    if value is None or value == "":
        return math.nan, False
    if isinstance(value, bool):
        return math.nan, True
    if isinstance(value, (int, float)):
        number = float(value)
        if number != number:  # a NaN the reader made of an empty cell
            return math.nan, False
        return (number, False) if math.isfinite(number) else (math.nan, True)
    text = clean_text(value).replace(",", "")
    if not text:
        return math.nan, False
    if text.endswith("%"):
        text = text[:-1].strip()
    try:
        number = float(text)
    except ValueError:
        return math.nan, True
    return (number, False) if math.isfinite(number) else (math.nan, True)


# ---------------------------------------------------------------- shares (percent or ratio)

PERCENT_MIN = 5.0


@dataclass(frozen=True)
class ShareRule:
    """How a share parameter may be written; see `read_share` for the rule itself."""

    label: str  # the column or item name, as the office reads it
    ratio_max: float  # a bare number up to this is a ratio
    low: float = 0.0  # the meaningful range of the share, as a ratio
    high: float = math.inf
    high_open: bool = False  # the share must stay below `high`
    example: str = "0.6 或 60%"


BASE_SHARE_RULE = ShareRule("基本分比例", 1, 0, 1, example="0.6 或 60%")
CAP_RULE = ShareRule("上限系数", 3, 1, example="1.2 或 120%")
QUOTA_RULE = ShareRule("优秀比例上限", 1, 0, 1, example="0.2 或 20%")
LOWER_RULE = ShareRule("下限", 3, 0, example="0.9 或 90%")
TIER_SHARE_RULE = ShareRule("得分比例", 1.5, 0, example="0.8 或 80%")
WEIGHT_RULE = ShareRule("权重", 1, 0, 1, example="30 或 30% 或 0.3")
RATING_SHARE_RULE = ShareRule("参评率下限", 1, 0, 1, example="0.8 或 80%")  # w-rating: also 每票优秀上限 as a share
TOLERANCE_RULE = ShareRule("核对容差", 1, 0, 1, high_open=True, example="0.005 或 0.5%")


@dataclass(frozen=True)
class ShareReading:
    value: float  # the share as a ratio; NaN when empty or unreadable
    scale: str  # "percent" (written with %), "ratio" / "percent_bare" (a bare number), "" (empty or 0)
    error: str = ""  # why the cell cannot be read and what to write, to follow the parameter's name


def _pct(ratio: float) -> str:
    return f"{_num_text(ratio * 100)}%"


def _num_text(number: float) -> str:
    return f"{number:.6g}" if not float(number).is_integer() else str(int(number))


def read_share(value: object, rule: ShareRule) -> ShareReading:
    """The one rule for every share parameter (基本分比例, 上限系数, 优秀比例上限, 档次表 下限
    and 得分比例, 权重, 核对容差):

    - text ending in % is percent: "80%" → 0.8 (full-width ％ too);
    - a bare number from 0 to `rule.ratio_max` is a ratio: 0.8 → 0.8. An Excel cell in percent
      format that shows 80% holds 0.8, so it reads the same as "80%";
    - a bare number from 5 to 100 × `rule.ratio_max` can only mean percent: 60 → 0.6;
    - any other bare number (between `ratio_max` and 5, or above 100 × `ratio_max`) is an error:
      neither reading is credible, so the office must write the % sign or a ratio;
    - the share must then lie in the rule's range (基本分比例 0–100%, 上限系数 at least 100% …).

    Cells that must share one scale (one 档次表's 下限, one group's 权重) are checked together
    by `_check_one_scale`: bare ratios and bare percents mixed (1, 90, 80) are an error.
    """
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ShareReading(math.nan, "")
    shown = clean_text(value)
    number, bad = _read_number(value)
    if bad or math.isnan(number):
        return ShareReading(math.nan, "", f"应为数字（如 {rule.example}），现为「{shown}」")
    written_percent = isinstance(value, str) and shown.endswith("%")
    if written_percent:
        share, scale = number / 100, "percent"
    elif number == 0:
        share, scale = 0.0, ""
    elif number < 0 or number <= rule.ratio_max:
        share, scale = number, "ratio"
    elif PERCENT_MIN <= number <= 100 * rule.ratio_max:
        share, scale = number / 100, "percent_bare"
    else:
        return ShareReading(math.nan, "", (
            f"写 {shown} 无法确定含义：不带 % 的数，0–{_num_text(rule.ratio_max)} 按比例读，"
            f"{_num_text(PERCENT_MIN)}–{_num_text(100 * rule.ratio_max)} 按百分数读；请写成比例或带 % 的百分数（如 {rule.example}）"))
    too_high = share >= rule.high if rule.high_open else share > rule.high
    if share < rule.low or too_high:
        if not math.isfinite(rule.high):
            span = f"不小于 {_pct(rule.low)}"
        elif rule.high_open:
            span = f"不小于 {_pct(rule.low)} 且小于 {_pct(rule.high)}"
        else:
            span = f"在 {_pct(rule.low)}–{_pct(rule.high)} 之间"
        read = "" if scale == "percent" else f"（读作 {_pct(share)}）"
        return ShareReading(math.nan, "", f"应{span}（如 {rule.example}），现为「{shown}」{read}")
    return ShareReading(share, scale)


# the share columns of the 指标 sheet, each read by its rule
SHARE_COLUMNS = {"base_share": BASE_SHARE_RULE, "cap": CAP_RULE, "tolerance": TOLERANCE_RULE}


def parse_share(value: object) -> float:
    """A share written 20% or 0.2 (or 20 meaning percent) → 0.2; unreadable → NaN (see `read_share`)."""
    return read_share(value, QUOTA_RULE).value


def _check_one_scale(cells: list[tuple[int, ShareReading, str]], others: str, rule: ShareRule, column: str,
                     sheet: str, problems: "_Problems") -> None:
    """Bare numbers meant as ratios and bare numbers meant as percents in one table: an error on each odd one.

    `cells` are (xlsx_row, reading, cell text) of the cells that must share one scale; `others`
    names the other rows (档次表「阶梯」的其他行), `column` the column as shown to the office.
    """
    ratios = [c for c in cells if c[1].scale == "ratio"]
    percents = [c for c in cells if c[1].scale == "percent_bare"]
    if not ratios or not percents:
        return
    odd, usual = (ratios, percents) if len(ratios) < len(percents) else (percents, ratios)
    if len(ratios) == len(percents):  # no majority: the later kind is the odd one
        odd, usual = (percents, ratios) if percents[0][0] > ratios[0][0] else (ratios, percents)
    usual_text = "、".join(c[2] for c in usual[:3])
    odd_kind, usual_kind = ("比例", "百分数") if odd is ratios else ("百分数", "比例")
    for row, reading, text in odd:
        problems.add(sheet, row, (
            f"{column}写 {text}（按{odd_kind}即 {_pct(reading.value)}），而{others}写 {usual_text}（按{usual_kind}）："
            f"无法确定含义，请统一写成比例或都带 %（如 {rule.example}）"))


def split_groups(value: object) -> list[str]:
    text = clean_text(value)
    return [part for part in GROUP_SEPARATORS.split(text) if part]


class _Problems:
    def __init__(self):
        self.items: list[tuple[str, int | None, str]] = []
        self.letters: dict[str, dict[str, str]] = {}  # sheet -> code name -> column letter

    def add(self, sheet: str, row: int | None, text: str) -> None:
        self.items.append((sheet, row, text))

    def column(self, sheet: str, code: str, label: str) -> str:
        """「下限」（B列）: the column as the office finds it in the sheet."""
        letter = self.letters.get(sheet, {}).get(code)
        return f"「{label}」（{letter}列）" if letter else f"「{label}」"

    def numbers(self, frame: pd.DataFrame, sheet: str, columns: dict[str, str], where) -> None:
        """Read the numeric columns of a parsed sheet in place; report every cell that is not a number.

        `columns` maps code name -> Chinese label; `where(row)` names the row's subject.
        """
        for code, label in columns.items():
            values = []
            for row, raw in zip(frame.itertuples(), frame[code]):
                number, bad = _read_number(raw)
                if bad:
                    self.add(sheet, row.xlsx_row, f"{where(row)}的{self.column(sheet, code, label)}应为数字，现为「{clean_text(raw)}」")
                values.append(number)
            frame[code] = pd.Series(values, index=frame.index, dtype=float)

    def shares(self, frame: pd.DataFrame, sheet: str, code: str, rule: ShareRule, where) -> list[ShareReading]:
        """Read one share column in place by `read_share`; report every unreadable cell."""
        readings = []
        for row, raw in zip(frame.itertuples(), frame[code]):
            reading = read_share(raw, rule)
            if reading.error:
                self.add(sheet, row.xlsx_row, f"{where(row)}的{self.column(sheet, code, rule.label)}{reading.error}")
            readings.append(reading)
        frame[code] = pd.Series([r.value for r in readings], index=frame.index, dtype=float)
        return readings


SCHEME_MAX_BYTES = 50 * 1024 * 1024


def _read_sheets(path: Path) -> dict[str, list[list]]:
    """Every sheet's cells, read in a child process: the scheme is a file the office edits and
    receives, and a native abort in calamine must end as this one Chinese line, not a dead process."""
    from .hostile import ChildDied, ChildTimedOut, call_isolated, string_table_problem

    try:
        if path.stat().st_size > SCHEME_MAX_BYTES:
            raise SchemeNotFound(f"考核方案文件「{path.name}」过大（超过 {SCHEME_MAX_BYTES // 1024 // 1024} MB），请确认选对了文件")
        data = path.read_bytes()
    except OSError as exc:
        raise SchemeNotFound(f"无法打开考核方案文件 {path}（{exc.strerror or exc}），请关闭文件或检查权限后重试") from exc
    problem = string_table_problem(data)
    if problem is not None:
        raise SchemeNotFound(f"考核方案文件「{path.name}」{problem}；请用 Excel 或 WPS 打开后另存为 .xlsx 再重试")
    try:
        return call_isolated(_calamine_sheets, data, timeout=60.0)
    except (ChildDied, ChildTimedOut) as exc:
        raise SchemeNotFound(f"考核方案文件「{path.name}」已损坏或结构异常，读取时解析程序异常退出；"
                             "请用 Excel 或 WPS 打开后另存为 .xlsx 再重试") from exc
    except RuntimeError as exc:  # calamine raises several unrelated types for unreadable files
        raise SchemeNotFound(f"无法读取考核方案文件 {path}：{exc}") from exc


def _calamine_sheets(data: bytes) -> dict[str, list[list]]:
    import io

    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        return {name: workbook.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in workbook.sheet_names}
    finally:
        workbook.close()


def _table_rows(sheets, sheet: str, columns: dict[str, str], required: list[str], problems: _Problems,
                optional_sheet: bool = False) -> pd.DataFrame:
    """Rows of a contract table as a frame with code-name columns and `xlsx_row` (1-based Excel row)."""
    names = list(columns.values()) + ["xlsx_row"]
    rows = sheets.get(sheet)
    if rows is None:
        if not optional_sheet:
            problems.add(sheet, None, f"缺少工作表「{sheet}」")
        return pd.DataFrame(columns=names)
    table = locate_table(rows, required, list(columns))
    if table is None:
        if optional_sheet and not any(clean_text(c) for r in rows for c in r):
            return pd.DataFrame(columns=names)
        problems.add(sheet, None, f"找不到表头行，表头须包含：{'、'.join(required)}{_closest_header(rows, required)}")
        return pd.DataFrame(columns=names)
    problems.letters[sheet] = {code: column_letter(table.columns[zh]) for zh, code in columns.items() if zh in table.columns}
    records = []
    for index in range(table.header_row + 1, len(rows)):
        row = rows[index]
        if not any(clean_text(cell) for cell in row):
            continue
        record = {code: table.get(row, zh) for zh, code in columns.items()}
        record["xlsx_row"] = index + 1
        records.append(record)
    return pd.DataFrame(records, columns=names).astype(object)


def _closest_header(rows, required: list[str]) -> str:
    """Which required headers the likeliest header row lacks: "（第1行缺少：适用类别）"."""
    best, best_row = set(), None
    for index, row in enumerate(rows[:50]):
        present = {header_key(cell) for cell in row} & set(required)
        if len(present) > len(best):
            best, best_row = present, index
    if best_row is None:
        return ""
    return f"（第{best_row + 1}行缺少：{'、'.join(h for h in required if h not in best)}）"


# ---------------------------------------------------------------- sheet parsers

def _parse_meta(sheets, problems: _Problems) -> SchemeMeta:
    rows = sheets.get("方案")
    values: dict[str, object] = {}
    rownum: dict[str, int] = {}
    if rows is None:
        problems.add("方案", None, "缺少工作表「方案」")
        rows = []
    table = locate_table(rows, ["项目", "值"])
    start = table.header_row + 1 if table else 0
    key_col, value_col = (table.columns["项目"], table.columns["值"]) if table else (0, 1)
    for index in range(start, len(rows)):
        row = rows[index]
        key = header_key(row[key_col]) if key_col < len(row) else ""
        if key:
            if key in rownum:  # the later row would silently win
                problems.add("方案", index + 1, f"「{key}」重复填写（第{rownum[key]}行已有），请只保留一行")
                continue
            values[key] = row[value_col] if value_col < len(row) else ""
            rownum[key] = index + 1
    # lines printed in the notice keep their full-width punctuation; the others are parsed
    extra = {k: (display_text(v) if k in SHOWN_META_EXTRA else clean_text(v)) for k, v in values.items() if k not in META_KEYS}

    def text(key: str) -> str:
        return clean_text(values.get(key, ""))

    def shown(key: str) -> str:
        return display_text(values.get(key, ""))

    name, period = shown("考核名称"), _period_text(values.get("考核周期", ""), text("周期类型"))
    if not name:
        problems.add("方案", rownum.get("考核名称"), "「考核名称」不能为空")
    if not period:
        problems.add("方案", rownum.get("考核周期"), "「考核周期」不能为空（如 2024、2024Q3、2024-06）")
    elif not re.fullmatch(r"[0-9A-Za-z_\-]{1,32}", period):
        problems.add("方案", rownum.get("考核周期"), f"「考核周期」{period} 只能包含字母、数字、- 和 _（如 2024、2024Q3、2024-06）")

    def choice(key: str, mapping: dict[str, str]) -> str:
        value = text(key)
        if value not in mapping:
            problems.add("方案", rownum.get(key), f"「{key}」只能是 {' / '.join(k for k in mapping if k)}，现为「{value}」")
            return mapping[""]
        return mapping[value]

    bonus_cap = parse_number(values.get("加分上限", ""))
    if text("加分上限") and (math.isnan(bonus_cap) or bonus_cap < 0):
        problems.add("方案", rownum.get("加分上限"), f"「加分上限」应为非负数，现为「{text('加分上限')}」")
    quota_reading = read_share(values.get("优秀比例上限", ""), QUOTA_RULE)
    quota = quota_reading.value
    if quota_reading.error:
        problems.add("方案", rownum.get("优秀比例上限"), f"「优秀比例上限」{quota_reading.error}")
    rectify = parse_number(values.get("整改分数线", ""))
    if text("整改分数线") and math.isnan(rectify):
        problems.add("方案", rownum.get("整改分数线"), f"「整改分数线」应为数字（如 85），现为「{text('整改分数线')}」")
    publication = parse_publication(values, rownum, _holiday_rows(sheets, problems), problems.add)
    period_type = text("周期类型") or "年度"
    if period_type not in ("年度", "季度", "月度"):
        problems.add("方案", rownum.get("周期类型"), f"「周期类型」只能是 年度 / 季度 / 月度，现为「{period_type}」")
    return SchemeMeta(
        name=name,
        period=period,
        period_type=period_type,
        issuer=shown("发文机关"),
        doc_number=shown("文号"),
        total_mode=choice("总分折算", TOTAL_MODES),
        bonus_cap=None if math.isnan(bonus_cap) else bonus_cap,
        excellent_quota=1.0 if math.isnan(quota) else quota,
        veto_effect=choice("否决效果", VETO_EFFECTS),
        leader_emails=[e for e in re.split(r"[;；,，\s]+", text("领导邮箱")) if e],
        rectify_below=None if math.isnan(rectify) else rectify,
        extra=extra,
        publication=publication,
    )


def _holiday_rows(sheets, problems: _Problems) -> list[dict] | None:
    """The 节假日 rows for publication.parse_settings (None without the sheet)."""
    if "节假日" not in sheets:
        return None
    frame = _table_rows(sheets, "节假日", HOLIDAY_COLUMNS, list(HOLIDAY_COLUMNS), problems, optional_sheet=True)
    letters = problems.letters.get("节假日", {})
    return [{"day": row.day, "kind": row.kind, "xlsx_row": row.xlsx_row, "day_col": letters.get("day"),
             "kind_col": letters.get("kind")} for row in frame.itertuples()]


def _parse_group_quotas(sheets, problems: _Problems, groups: list[str]) -> pd.DataFrame:
    """类别: a group's own 优秀比例上限, how its 名额 is rounded, and whether it keeps at least one."""
    sheet = "类别"
    frame = _table_rows(sheets, sheet, GROUP_QUOTA_COLUMNS, ["考核类别", "优秀比例上限"], problems, optional_sheet=True)
    for column in ("group", "rounding", "at_least_one"):
        frame[column] = frame[column].map(clean_text)
    written = frame["share"].map(clean_text)

    def where(row):
        return f"考核类别「{row.group}」"

    problems.shares(frame, sheet, "share", QUOTA_RULE, where)
    for row, text in zip(frame.itertuples(), written):
        if not row.group:
            problems.add(sheet, row.xlsx_row, "「考核类别」不能为空")
        elif row.group not in groups:
            problems.add(sheet, row.xlsx_row, f"考核类别「{row.group}」没有任何单位（单位表中的类别：{'、'.join(groups)}）")
        if not text:
            problems.add(sheet, row.xlsx_row, f"{where(row)}的{problems.column(sheet, 'share', '优秀比例上限')}不能为空（如 0.2 或 20%）")
        if row.rounding not in QUOTA_ROUNDINGS:
            problems.add(sheet, row.xlsx_row, (
                f"{where(row)}的{problems.column(sheet, 'rounding', '名额取整')}只能是 向下取整 或 四舍五入，现为「{row.rounding}」"))
        if row.at_least_one not in YES and row.at_least_one not in NO:
            problems.add(sheet, row.xlsx_row, (
                f"{where(row)}的{problems.column(sheet, 'at_least_one', '至少一名')}只能填 是 或 否，现为「{row.at_least_one}」"))
    for row in frame[frame["group"].duplicated() & (frame["group"] != "")].itertuples():
        problems.add(sheet, row.xlsx_row, f"考核类别「{row.group}」重复")
    frame["rounding"] = frame["rounding"].map(lambda v: QUOTA_ROUNDINGS.get(v, "floor"))
    frame["at_least_one"] = frame["at_least_one"].isin(YES)
    return frame[["group", "share", "rounding", "at_least_one"]].reset_index(drop=True)


def _period_text(value: object, period_type: str) -> str:
    """Excel turns a typed 2024-06 into a date; read it back as the period id the office meant."""
    if isinstance(value, (datetime, date)):
        if period_type == "季度":
            return f"{value.year}Q{(value.month - 1) // 3 + 1}"
        if period_type == "月度":
            return f"{value.year}-{value.month:02d}"
        return f"{value.year}"
    return clean_text(value)


def _parse_grades(sheets, problems: _Problems) -> pd.DataFrame:
    frame = _table_rows(sheets, "等次", GRADE_COLUMNS, list(GRADE_COLUMNS), problems)
    frame["grade"] = frame["grade"].map(clean_text)
    written = frame["min_score"].map(clean_text)
    problems.numbers(frame, "等次", {"min_score": "最低分"}, lambda row: f"等次「{row.grade}」")
    column = problems.column("等次", "min_score", "最低分")
    for row, text in zip(frame.itertuples(), written):
        if not row.grade:
            problems.add("等次", row.xlsx_row, "「等次」不能为空")
        if not text:
            problems.add("等次", row.xlsx_row, f"等次「{row.grade}」的{column}应为数字")
    for row in frame[frame["grade"].duplicated() & (frame["grade"] != "")].itertuples():
        problems.add("等次", row.xlsx_row, f"等次「{row.grade}」重复")
    if frame.empty and "等次" in sheets:
        problems.add("等次", None, "至少需要一个等次")
    # rank.py takes the highest threshold as the top grade (优秀 quota, 取消评优): the written
    # order must agree, or 优秀 95 above 良好 96 silently swaps the grades
    scored = frame[frame["min_score"].notna()]
    previous = None
    for row in scored.itertuples():
        if previous is not None and not row.min_score < previous.min_score:
            problems.add("等次", row.xlsx_row, (
                f"等次「{row.grade}」的{column}{_num_text(row.min_score)}不低于上一等次「{previous.grade}」的 "
                f"{_num_text(previous.min_score)}：等次须从高到低逐行填写，最低分逐行递减（如 优秀 90、良好 80、合格 60、不合格 0）"))
        previous = row
    if len(scored) and scored["min_score"].min() > 0:
        lowest = scored.loc[scored["min_score"].idxmin()]
        problems.add("等次", lowest["xlsx_row"], (
            f"最低的等次「{lowest['grade']}」的{column}为 {_num_text(lowest['min_score'])}，低于此分的单位没有等次："
            f"请把最低等次的最低分改为 0，或再加一行最低分为 0 的等次（如 不合格 0）"))
    frame = frame.sort_values("min_score", ascending=False, kind="stable")
    return frame[["grade", "min_score"]].reset_index(drop=True)


def _parse_units(sheets, problems: _Problems) -> pd.DataFrame:
    frame = _table_rows(sheets, "单位", UNIT_COLUMNS, ["单位代码", "单位名称", "考核类别"], problems)
    for column in UNIT_COLUMNS.values():
        # the name as the office wrote it: 指挥中心（情报中心） keeps its full-width brackets
        frame[column] = frame[column].map(display_text if column == "unit_name" else clean_text)
    for row in frame.itertuples():
        if not UNIT_CODE_PATTERN.match(row.unit_code):
            problems.add("单位", row.xlsx_row, f"单位代码「{row.unit_code}」不合规：只能用字母、数字、_ 和 -，最长32位")
        if not row.unit_name:
            problems.add("单位", row.xlsx_row, f"单位「{row.unit_code}」的「单位名称」不能为空")
        if not row.group:
            problems.add("单位", row.xlsx_row, f"单位「{row.unit_code}」的「考核类别」不能为空")
        elif row.group == ALL_GROUPS or GROUP_SEPARATORS.search(row.group):
            # 适用类别 splits at these separators and reads 全部 as every group: such a group could never be named
            problems.add("单位", row.xlsx_row, (
                f"单位「{row.unit_code}」的考核类别「{row.group}」不可用：类别名称不能是“全部”，也不能含空格或 、,，;；"
                f"（指标的「适用类别」用它们分隔类别）"))
    for row in frame[frame["unit_code"].duplicated(keep="first") & (frame["unit_code"] != "")].itertuples():
        problems.add("单位", row.xlsx_row, f"单位代码「{row.unit_code}」重复")
    if frame.empty and "单位" in sheets:
        problems.add("单位", None, "没有任何被考核单位")
    return frame.drop(columns="xlsx_row").reset_index(drop=True)


def _parse_tiers(sheets, problems: _Problems) -> pd.DataFrame:
    sheet = "档次表"
    frame = _table_rows(sheets, sheet, TIER_COLUMNS, ["档次表", "得分比例"], problems, optional_sheet=True)
    frame["tier_table"] = frame["tier_table"].map(clean_text)
    frame["level"] = frame["level"].map(clean_text)
    lower_text, share_text = frame["lower"].map(clean_text), frame["share"].map(clean_text)

    def where(row):
        return f"档次表「{row.tier_table}」"

    lowers = problems.shares(frame, sheet, "lower", LOWER_RULE, where)
    shares = problems.shares(frame, sheet, "share", TIER_SHARE_RULE, where)
    lower_column, share_column = problems.column(sheet, "lower", "下限"), problems.column(sheet, "share", "得分比例")
    for row, lower_written, share_written in zip(frame.itertuples(), lower_text, share_text):
        if not row.tier_table:
            problems.add(sheet, row.xlsx_row, "「档次表」名称不能为空")
        if not share_written:
            problems.add(sheet, row.xlsx_row, f"档次表「{row.tier_table}」的{share_column}不能为空（如 0.8 或 80%）")
        if not lower_written and not row.level:
            problems.add(sheet, row.xlsx_row, f"档次表「{row.tier_table}」每行须填「下限」（阶梯）或「等级」（定性）")
    positions = pd.Series(range(len(frame)), index=frame.index)
    for name, table in frame.groupby("tier_table", sort=False):
        if not name:
            continue
        at = positions[table.index].tolist()
        scope = f"档次表「{name}」"
        others = f"{scope}的其他行"
        for readings, texts, rule, column in ((lowers, lower_text, LOWER_RULE, lower_column),
                                              (shares, share_text, TIER_SHARE_RULE, share_column)):
            cells = [(frame["xlsx_row"].iat[i], readings[i], texts.iat[i]) for i in at]
            _check_one_scale(cells, others, rule, column, sheet, problems)
        for row in table[table["level"].duplicated() & (table["level"] != "")].itertuples():
            problems.add(sheet, row.xlsx_row, f"{scope}的等级「{row.level}」重复（定性评价只能对应一个得分比例）")
        steps = table[table["lower"].notna()]
        for row in steps[steps["lower"].duplicated()].itertuples():
            problems.add(sheet, row.xlsx_row, f"{scope}的{lower_column} {_pct(row.lower)} 重复（同一下限只能对应一个得分比例）")
        # 阶梯 gives the share of the highest tier reached: reaching a higher tier must never score less
        steps = steps.drop_duplicates("lower").sort_values("lower", kind="stable")
        best_below = None
        for row in steps.itertuples():
            if best_below is not None and row.share < best_below.share:
                problems.add(sheet, row.xlsx_row, (
                    f"{scope}中下限 {_pct(row.lower)} 的{share_column}{_pct(row.share)}低于下限 "
                    f"{_pct(best_below.lower)} 的 {_pct(best_below.share)}：完成得越多得分比例不应越低，请检查这两行"))
            if best_below is None or row.share >= best_below.share:
                best_below = row
    return frame.drop(columns="xlsx_row").reset_index(drop=True)


def _parse_indicators(sheets, problems: _Problems, groups: list[str], tiers: pd.DataFrame,
                      meta: SchemeMeta | None = None) -> pd.DataFrame:
    frame = _table_rows(sheets, "指标", INDICATOR_COLUMNS, INDICATOR_REQUIRED, problems)
    text_columns = ["indicator_code", "category", "subcategory", "name", "measure_unit", "method", "direction",
                    "tier_table", "source", "lead_unit", "description", "missing_rule"]
    for column in text_columns:
        frame[column] = frame[column].map(display_text if column in ("name", "description") else clean_text)
    points_text = frame["points"].map(clean_text)

    def where(row):
        return f"指标「{row.indicator_code or row.name}」"

    problems.numbers(frame, "指标", {code: zh for zh, code in INDICATOR_COLUMNS.items()
                                   if code in NUMERIC_INDICATOR_COLUMNS and code not in SHARE_COLUMNS}, where)
    for code, rule in SHARE_COLUMNS.items():
        problems.shares(frame, "指标", code, rule, where)
    raw_groups = frame["groups"].map(clean_text)
    frame["groups"] = raw_groups.map(lambda v: ALL_GROUPS if v == ALL_GROUPS else split_groups(v))
    known_tables = set(tiers["tier_table"])
    on_indicator = _indicator_checks(frame)
    for row in frame.itertuples():
        where = f"指标「{row.indicator_code or row.name}」"
        if not row.indicator_code:
            problems.add("指标", row.xlsx_row, "「指标代码」不能为空")
        if not row.name:
            problems.add("指标", row.xlsx_row, f"{where}的「指标名称」不能为空")
        if row.method not in _methods.METHODS:
            problems.add("指标", row.xlsx_row, f"{where}的计分方法「{row.method}」未知，可用：{_methods.listing()}")
        if row.direction not in DIRECTIONS:
            problems.add("指标", row.xlsx_row, f"{where}的「方向」只能是 正向 或 反向，现为「{row.direction}」")
        if row.source not in SOURCES:
            problems.add("指标", row.xlsx_row, f"{where}的「数据来源」只能是 自报、评定、测评 或 平时，现为「{row.source}」")
        if row.missing_rule not in MISSING_RULES:
            problems.add("指标", row.xlsx_row, f"{where}的「缺项处理」只能是 归一化 或 均值，现为「{row.missing_rule}」")
        if not points_text.iat[row.Index] or row.points <= 0:
            problems.add("指标", row.xlsx_row, f"{where}的{problems.column('指标', 'points', '分值')}应为正数")
        if row.groups != ALL_GROUPS:
            if not row.groups:
                problems.add("指标", row.xlsx_row, f"{where}的「适用类别」不能为空（填“全部”或类别名称）")
            if ALL_GROUPS in row.groups:
                problems.add("指标", row.xlsx_row, (
                    f"{where}的「适用类别」「{raw_groups.iat[row.Index]}」含“全部”又列了类别：适用于所有类别只填“全部”，否则只列类别名称"))
            for group in row.groups:
                if group == ALL_GROUPS:
                    continue
                if group not in groups:
                    problems.add("指标", row.xlsx_row, f"{where}的适用类别「{group}」没有任何单位（单位表中的类别：{'、'.join(groups)}）")
        if row.step < 0:  # a negative step turns every deduction into a bonus
            problems.add("指标", row.xlsx_row, f"{where}的{problems.column('指标', 'step', '每项分值')}不能为负数")
        method = _methods.METHODS.get(row.method)
        if method is not None:
            _check_method_parameters(method, row, where, tiers, known_tables, on_indicator.get(row.Index, []), problems)
    for row in frame[frame["indicator_code"].duplicated() & (frame["indicator_code"] != "")].itertuples():
        problems.add("指标", row.xlsx_row, f"指标代码「{row.indicator_code}」重复")
    from .source_periods import check_source_periods  # w-interim

    check_source_periods(frame, meta, problems)
    frame["direction"] = frame["direction"].map(lambda v: DIRECTIONS.get(v, "higher"))
    frame["source"] = frame["source"].map(lambda v: SOURCES.get(v, "self"))
    frame["missing_rule"] = frame["missing_rule"].map(lambda v: MISSING_RULES.get(v, "normalize"))
    frame["order"] = range(len(frame))
    return frame.reset_index(drop=True)


def _indicator_checks(frame: pd.DataFrame) -> dict[int, list[str]]:
    """Per 指标 row, the messages of its method's checks that are also made on the indicator itself."""
    out: dict[int, list[str]] = {}
    higher = frame["direction"].map(lambda v: DIRECTIONS.get(v, "higher")) == "higher"
    for name, method in _methods.METHODS.items():
        rows = frame["method"] == name
        for check in method.checks:
            if check.on_indicator and rows.any():
                failed = rows & check.test(frame, higher).fillna(False).astype(bool)
                for index in frame.index[failed]:
                    out.setdefault(index, []).append(check.message)
    return out


def _check_method_parameters(method, row, where: str, tiers: pd.DataFrame, known_tables: set,
                             indicator_messages: list[str], problems: _Problems) -> None:
    """One 指标 row against its method's registered parameter requirements."""
    # a parameter the method never reads: the office expects it to count, and it would not
    for code in METHOD_PARAMETERS:
        label = _methods.LABELS[code]
        filled = bool(row.tier_table) if code == "tier_table" else not math.isnan(getattr(row, code))
        if not method.uses(code) and filled:
            problems.add("指标", row.xlsx_row, (
                f"{where}使用{row.method}法，不使用{problems.column('指标', code, label)}（只有{'、'.join(_methods.users(code))}法使用）："
                f"请删去该格内容，或改用相应的计分方法"))
    if method.status("tier_table") == _methods.REQUIRED:
        if not row.tier_table:
            problems.add("指标", row.xlsx_row, f"{where}使用{row.method}法，须在「档次表」列填写档次表名称")
        elif row.tier_table not in known_tables:
            problems.add("指标", row.xlsx_row, f"{where}的档次表「{row.tier_table}」在「档次表」工作表中不存在")
        else:
            table = tiers[tiers["tier_table"] == row.tier_table]
            empty = table["lower"].isna().all() if method.tier_rows == "下限" else (table["level"] == "").all()
            if empty:
                problems.add("指标", row.xlsx_row,
                             f"{where}的档次表「{row.tier_table}」没有「{method.tier_rows}」，不能用于{row.method}法")
    # parameters that only the 指标 sheet holds (目标值 … 不允许值 may come from 目标分解: _check_parameters)
    for code in ("step", "cap", "base_share"):
        if method.status(code) == _methods.REQUIRED and math.isnan(getattr(row, code)):
            problems.add("指标", row.xlsx_row,
                         f"{where}使用{row.method}法，须填写「{_methods.LABELS[code]}」{_REQUIRED_HINT.get(code, '')}")
    for message in indicator_messages:
        problems.add("指标", row.xlsx_row, f"{where}使用{row.method}法，{message}")


def _parse_targets(sheets, problems: _Problems, units: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    frame = _table_rows(sheets, "目标分解", TARGET_COLUMNS, ["单位代码", "指标代码"], problems, optional_sheet=True)
    frame["unit_code"] = frame["unit_code"].map(clean_text)
    frame["indicator_code"] = frame["indicator_code"].map(clean_text)
    problems.numbers(frame, "目标分解", {code: zh for zh, code in TARGET_COLUMNS.items() if code in PARAMETER_COLUMNS},
                     lambda row: f"单位「{row.unit_code}」的指标「{row.indicator_code}」")
    exempt_text = frame["exempt"].map(clean_text)
    unit_groups = dict(zip(units["unit_code"], units["group"]))
    indicator_groups = dict(zip(indicators["indicator_code"], indicators["groups"]))
    indicator_methods = dict(zip(indicators["indicator_code"], indicators["method"]))
    for row, flag in zip(frame.itertuples(), exempt_text):
        method = indicator_methods.get(row.indicator_code)
        registered = _methods.METHODS.get(method)
        for code in PARAMETER_COLUMNS[::-1] if registered is not None else ():  # 不允许值 first, as listed before
            if not registered.uses(code) and not math.isnan(getattr(row, code)):
                problems.add("目标分解", row.xlsx_row, (
                    f"指标「{row.indicator_code}」使用{method}法，不使用{problems.column('目标分解', code, _methods.LABELS[code])}"
                    f"（只有{'、'.join(_methods.users(code))}法使用）：请删去该格内容"))
        if row.unit_code not in unit_groups:
            problems.add("目标分解", row.xlsx_row, f"单位代码「{row.unit_code}」不在「单位」表中")
        if row.indicator_code not in indicator_groups:
            problems.add("目标分解", row.xlsx_row, f"指标代码「{row.indicator_code}」不在「指标」表中")
        elif row.unit_code in unit_groups:
            applies = indicator_groups[row.indicator_code]
            if applies != ALL_GROUPS and unit_groups[row.unit_code] not in applies:
                problems.add("目标分解", row.xlsx_row, f"指标「{row.indicator_code}」不适用于单位「{row.unit_code}」所在的类别「{unit_groups[row.unit_code]}」")
        if flag not in YES and flag not in NO:
            problems.add("目标分解", row.xlsx_row, f"「不考核」只能填 是 或 留空，现为「{flag}」")
    for row in frame[frame.duplicated(["unit_code", "indicator_code"])].itertuples():
        problems.add("目标分解", row.xlsx_row, f"单位「{row.unit_code}」的指标「{row.indicator_code}」重复分解")
    frame["exempt"] = exempt_text.isin(YES)
    return frame.reset_index(drop=True)


def _parse_weights(sheets, problems: _Problems, indicators: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """The 权重 rows, weights in percent points (30% and 0.3 both → 30), checked against every group.

    score.py applies to a group its own rows, or else the rows without 考核类别; so every group
    with units must get weights that cover each 一级指标 it has indicators in and sum to 100%.
    """
    sheet = "权重"
    frame = _table_rows(sheets, sheet, WEIGHT_COLUMNS, ["一级指标", "权重"], problems, optional_sheet=True)
    frame["category"] = frame["category"].map(clean_text)
    frame["group"] = frame["group"].map(clean_text)
    written = frame["weight"].map(clean_text)
    column = problems.column(sheet, "weight", "权重")
    readings = problems.shares(frame, sheet, "weight", WEIGHT_RULE, lambda row: f"一级指标「{row.category}」")
    categories = set(indicators["category"])
    for row, text in zip(frame.itertuples(), written):
        if row.category not in categories:
            problems.add(sheet, row.xlsx_row, f"一级指标「{row.category}」在「指标」表中不存在")
        if not text:
            problems.add(sheet, row.xlsx_row, f"一级指标「{row.category}」的{column}不能为空（如 30 或 30%）")
        if row.group and row.group not in groups:
            problems.add(sheet, row.xlsx_row, f"考核类别「{row.group}」没有任何单位")
    for row in frame[frame.duplicated(["category", "group"])].itertuples():
        problems.add(sheet, row.xlsx_row, f"一级指标「{row.category}」的权重重复")
    if frame.empty:
        return frame.drop(columns="xlsx_row").reset_index(drop=True)
    positions = pd.Series(range(len(frame)), index=frame.index)
    for group, rows in frame.groupby("group", sort=False):
        others = f"考核类别「{group}」的其他权重行" if group else "未填考核类别的其他权重行"
        cells = [(frame["xlsx_row"].iat[i], readings[i], written.iat[i]) for i in positions[rows.index]]
        _check_one_scale(cells, others, WEIGHT_RULE, column, sheet, problems)
    _check_weight_coverage(frame, indicators, groups, problems)
    frame["weight"] = frame["weight"] * 100
    return frame.drop(columns="xlsx_row").reset_index(drop=True)


def _check_weight_coverage(frame: pd.DataFrame, indicators: pd.DataFrame, groups: list[str], problems: _Problems) -> None:
    """Each group's effective weights (its own rows, else the rows without 考核类别) against its indicators."""
    sheet = "权重"
    own = list(dict.fromkeys(g for g in frame["group"] if g))
    generic = frame[frame["group"] == ""]
    known = set(indicators["category"])
    order = list(dict.fromkeys(indicators["category"]))
    row_sets = [(f"考核类别「{g}」的权重", frame[frame["group"] == g]) for g in own]
    if not generic.empty:
        row_sets.append(("未填考核类别的权重行", generic))
    for scope, rows in row_sets:
        total = rows["weight"].sum()
        if rows["weight"].notna().all() and abs(total - 1) > 1e-6:
            parts = "、".join(f"{c} {_pct(w)}" for c, w in zip(rows["category"], rows["weight"]))
            problems.add(sheet, int(rows["xlsx_row"].iloc[0]), (
                f"{scope}合计为 {_pct(total)}（{parts}），应为 100%：请修改各一级指标的权重，使其合计为 100（或 1）"))
    for group in groups:
        rows = frame[frame["group"] == group] if group in own else generic
        if rows.empty:
            problems.add(sheet, None, (
                f"只给考核类别 {'、'.join(own)} 设了权重，考核类别「{group}」没有权重，其单位的指标得分将全为 0："
                f"请为「{group}」加上各一级指标的权重行，或把通用权重行的「考核类别」留空（留空的行适用于未单列权重的类别）"))
            continue
        scope = f"考核类别「{group}」的权重" if group in own else "未填考核类别的权重行"
        applies = indicators["groups"].map(lambda g, group=group: g == ALL_GROUPS or group in g)
        has_indicators = set(indicators.loc[applies, "category"])
        for category in sorted(has_indicators - set(rows["category"]), key=order.index):
            name = f"一级指标「{category}」" if category else "「一级指标」为空的指标"
            problems.add(sheet, int(rows["xlsx_row"].iloc[0]), (
                f"{name}有适用于考核类别「{group}」的指标，但{scope}中没有它，这些指标将不计入总分："
                f"请加上它的权重行，或填写这些指标的「一级指标」"))
        for row in rows.itertuples():
            if row.category in known and row.category not in has_indicators and row.weight > 0:
                problems.add(sheet, row.xlsx_row, (
                    f"一级指标「{row.category}」在考核类别「{group}」中没有任何适用指标，其权重 {_pct(row.weight)} 无处计分："
                    f"请为「{group}」单列权重（「考核类别」填「{group}」），或把该权重改为 0"))


def _parse_adjustments(sheets, problems: _Problems) -> pd.DataFrame:
    frame = _table_rows(sheets, "加扣分", ADJUSTMENT_COLUMNS, ["项目代码", "类型", "项目名称"], problems, optional_sheet=True)
    for column in ("item_code", "kind", "name"):
        frame[column] = frame[column].map(display_text if column == "name" else clean_text)
    step_text = frame["step"].map(clean_text)
    problems.numbers(frame, "加扣分", {"step": "每项分值", "item_cap": "单项上限"},
                     lambda row: f"加扣分项目「{row.item_code or row.name}」")
    evidence = frame["needs_evidence"].map(clean_text)
    effects = frame["veto_effect"].map(clean_text)
    for row, effect in zip(frame.itertuples(), effects):
        column = problems.column("加扣分", "veto_effect", "否决效果")
        if effect and row.kind != "否决":
            problems.add("加扣分", row.xlsx_row, (
                f"加扣分项目「{row.item_code or row.name}」不是否决项目，不使用{column}：请删去该格内容，或把「类型」改为 否决"))
        elif effect and effect not in VETO_EFFECTS:
            problems.add("加扣分", row.xlsx_row, (
                f"加扣分项目「{row.item_code or row.name}」的{column}只能是 {' / '.join(k for k in VETO_EFFECTS if k)}"
                f"（留空按「方案」的否决效果），现为「{effect}」"))
    for row, flag, written in zip(frame.itertuples(), evidence, step_text):
        where = f"加扣分项目「{row.item_code or row.name}」"
        if row.item_cap < 0:
            problems.add("加扣分", row.xlsx_row, f"{where}的{problems.column('加扣分', 'item_cap', '单项上限')}不能为负数")
        if not row.item_code:
            problems.add("加扣分", row.xlsx_row, "「项目代码」不能为空")
        if row.kind not in ADJUSTMENT_KINDS:
            problems.add("加扣分", row.xlsx_row, f"{where}的「类型」只能是 加分 / 扣分 / 否决，现为「{row.kind}」")
        elif row.kind == "否决" and (written or not math.isnan(row.item_cap)):
            # a veto applies 否决效果, never points: a step written here would be silently ignored
            problems.add("加扣分", row.xlsx_row, (
                f"{where}是否决项目，不计分值：请删去「每项分值」和「单项上限」，需要扣分的另设一个扣分项目"))
        elif row.kind != "否决" and ((not written) or row.step < 0):
            problems.add("加扣分", row.xlsx_row, f"{where}的{problems.column('加扣分', 'step', '每项分值')}应为非负数")
        if flag not in YES and flag not in NO:
            problems.add("加扣分", row.xlsx_row, f"{where}的「需佐证」只能填 是 或 否")
    for row in frame[frame["item_code"].duplicated() & (frame["item_code"] != "")].itertuples():
        problems.add("加扣分", row.xlsx_row, f"项目代码「{row.item_code}」重复")
    frame["kind"] = frame["kind"].map(lambda v: ADJUSTMENT_KINDS.get(v, "bonus"))
    frame["needs_evidence"] = evidence.isin(YES)
    frame["veto_effect"] = effects.map(lambda v: VETO_EFFECTS.get(v, "") if v else "")  # "": the 方案 value
    return frame.drop(columns="xlsx_row").reset_index(drop=True)


# ---------------------------------------------------------------- assignments

def _assignments(scheme: Scheme) -> pd.DataFrame:
    indicators = scheme.indicators.drop(columns=["xlsx_row"], errors="ignore")
    units = scheme.units[["unit_code", "unit_name", "group"]]
    all_groups = indicators["groups"].map(lambda g: g == ALL_GROUPS)
    per_group = indicators.loc[~all_groups, ["indicator_code", "groups"]].explode("groups").rename(columns={"groups": "group"})
    everywhere = indicators.loc[all_groups, ["indicator_code"]].merge(pd.DataFrame({"group": scheme.groups}), how="cross")
    pairs = pd.concat([everywhere, per_group], ignore_index=True).dropna()
    frame = units.merge(pairs, on="group").merge(indicators.drop(columns=["groups"]), on="indicator_code")
    targets = scheme.unit_targets.drop(columns=["xlsx_row"], errors="ignore")
    frame = frame.merge(targets, on=["unit_code", "indicator_code"], how="left", suffixes=("", "_unit"))
    for column in PARAMETER_COLUMNS:
        override = frame[f"{column}_unit"]
        frame[column] = override.where(override.notna(), frame[column]).astype(float)
    frame["exempt"] = frame["exempt"].fillna(False).astype(bool)
    frame = frame.drop(columns=[f"{c}_unit" for c in PARAMETER_COLUMNS])
    unit_order = {code: i for i, code in enumerate(units["unit_code"])}
    frame["_unit_order"] = frame["unit_code"].map(unit_order)
    frame = frame.sort_values(["_unit_order", "order"], kind="stable").drop(columns="_unit_order")
    return frame.reset_index(drop=True)


def _check_parameters(scheme: Scheme, problems: _Problems) -> None:
    """Parameters a method needs, checked per unit after 目标分解 (a target may come from either sheet)."""
    frame = scheme.assignments()
    frame = frame[~frame["exempt"]]
    higher = frame["direction"] == "higher"
    checks = []
    for name, method in _methods.METHODS.items():
        rows = frame[frame["method"] == name]
        if rows.empty:
            continue
        covered = {code for check in method.checks for code in check.columns}
        for code in PARAMETER_COLUMNS:  # a required threshold no check of the method tests: present at least
            if method.status(code) == _methods.REQUIRED and code not in covered:
                checks.append((rows.index[rows[code].isna()], f"须有「{_methods.LABELS[code]}」"))
        for check in method.checks:
            failed = check.test(rows, higher.loc[rows.index]).fillna(False).astype(bool)
            checks.append((rows.index[failed], check.message))
    targets = scheme.unit_targets
    target_rows = dict(zip(zip(targets["unit_code"], targets["indicator_code"]), targets["xlsx_row"]))
    indicator_rows = dict(zip(scheme.indicators["indicator_code"], scheme.indicators["xlsx_row"]))
    seen: set[tuple[str, str]] = set()
    for failed, text in checks:
        for row in frame.loc[failed].itertuples():
            key = (row.indicator_code, text)
            if key in seen:
                continue
            seen.add(key)
            if (row.unit_code, row.indicator_code) in target_rows:
                problems.add("目标分解", target_rows[(row.unit_code, row.indicator_code)],
                             f"单位「{row.unit_code}」的指标「{row.indicator_code}」（{row.method}法）{text}")
            else:
                problems.add("指标", indicator_rows.get(row.indicator_code),
                             f"指标「{row.indicator_code}」（{row.method}法，单位「{row.unit_code}」等）{text}")


# ---------------------------------------------------------------- entry point

CONTRACT_SHEETS = ["方案", "等次", "单位", "指标", "目标分解", "档次表", "权重", "加扣分", "类别", "节假日", "测评", "测评人"]
STRUCTURAL_PROBLEMS = ("缺少工作表", "找不到表头行")


def fingerprint_sheets(sheets: dict[str, list[list]]) -> str:
    """sha256 of the contract sheets' cell texts: formatting and sheet order do not count."""
    canonical = {}
    for name in CONTRACT_SHEETS:
        rows = sheets.get(name)
        if rows is None:
            continue
        cleaned = [[clean_text(c) for c in row] for row in rows]
        cleaned = [row for row in cleaned if any(row)]
        canonical[name] = [list(_trim(row)) for row in cleaned]
    payload = json.dumps(canonical, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _trim(row: list[str]) -> list[str]:
    end = len(row)
    while end and not row[end - 1]:
        end -= 1
    return row[:end]


def load_scheme(path: str | Path) -> Scheme:
    """Load and check the scheme workbook; raise SchemeInvalid listing every problem.

    >>> scheme = load_scheme("templates/scheme.xlsx")  # doctest: +SKIP
    >>> scheme.meta.period
    '2024'
    """
    path = Path(path)
    if not path.is_file():
        raise SchemeNotFound(f"找不到考核方案文件：{path}")
    sheets = _read_sheets(path)
    problems = _Problems()
    meta = _parse_meta(sheets, problems)
    grades = _parse_grades(sheets, problems)
    units = _parse_units(sheets, problems)
    groups = list(dict.fromkeys(units["group"]))
    tiers = _parse_tiers(sheets, problems)
    indicators = _parse_indicators(sheets, problems, groups, tiers, meta)
    unit_targets = _parse_targets(sheets, problems, units, indicators)
    weights = _parse_weights(sheets, problems, indicators, groups)
    adjustments = _parse_adjustments(sheets, problems)
    group_quotas = _parse_group_quotas(sheets, problems, groups)
    for group in groups:
        applies = indicators["groups"].map(lambda g, group=group: g == ALL_GROUPS or group in g)
        if not applies.any():
            problems.add("指标", None, f"考核类别「{group}」没有任何适用指标")
    scheme = Scheme(meta, grades, units, indicators, unit_targets, tiers, weights, adjustments,
                    fingerprint_sheets(sheets), path, group_quotas)
    scheme.ratings, scheme.raters = _rating_scheme.parse_ratings(
        sheets, problems, indicators, groups, _table_rows, read_share, RATING_SHARE_RULE, WEIGHT_RULE,
        _check_one_scale, split_groups, YES, NO, ALL_GROUPS)
    structural = [item for item in problems.items if item[1] is None and item[2].startswith(STRUCTURAL_PROBLEMS)]
    if structural:
        # a missing sheet or header row makes every row that refers to it look wrong too: say only the cause
        problems.items = structural
    if not problems.items:
        _check_parameters(scheme, problems)
    if problems.items:
        raise SchemeInvalid(f"考核方案「{path.name}」有 {len(problems.items)} 处问题，请修改后重试：", problems.items)
    scheme.unit_targets = unit_targets.drop(columns="xlsx_row")
    release_unused()  # the parameter check's unit × indicator table
    return scheme
