"""The scheme workbook (考核方案): load it, check it against the contract in domain.md,
and expand it into one row per unit × applicable indicator.

Every problem found is collected; a scheme with any problem raises `SchemeInvalid`
listing each sheet, row and what to fix, so the office fixes them all in one pass.
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
from .tables import clean_text, header_key, locate_table

METHOD_NAMES = ["完成率", "基本满分", "功效系数", "阶梯", "差额扣分", "排名", "相对最优", "定性", "扣分"]
DIRECTIONS = {"正向": "higher", "反向": "lower", "": "higher"}
SOURCES = {"自报": "self", "评定": "assessed", "": "self"}
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
}
INDICATOR_REQUIRED = ["指标代码", "指标名称", "适用类别", "分值", "计分方法"]
PARAMETER_COLUMNS = ["base", "target", "full", "floor"]
NUMERIC_INDICATOR_COLUMNS = ["points", "base", "target", "full", "floor", "base_share", "cap", "step", "county_total"]
UNIT_COLUMNS = {"单位代码": "unit_code", "单位名称": "unit_name", "考核类别": "group", "联系人": "contact", "邮箱": "email"}
TARGET_COLUMNS = {"单位代码": "unit_code", "指标代码": "indicator_code", "基本值": "base", "目标值": "target",
                  "满分值": "full", "不允许值": "floor", "不考核": "exempt"}
TIER_COLUMNS = {"档次表": "tier_table", "下限": "lower", "等级": "level", "得分比例": "share"}
WEIGHT_COLUMNS = {"一级指标": "category", "权重": "weight", "考核类别": "group"}
ADJUSTMENT_COLUMNS = {"项目代码": "item_code", "类型": "kind", "项目名称": "name", "每项分值": "step",
                      "单项上限": "item_cap", "需佐证": "needs_evidence"}
GRADE_COLUMNS = {"等次": "grade", "最低分": "min_score"}
META_KEYS = {
    "考核名称": "name", "考核周期": "period", "周期类型": "period_type", "发文机关": "issuer", "文号": "doc_number",
    "总分折算": "total_mode", "加分上限": "bonus_cap", "优秀比例上限": "excellent_quota", "否决效果": "veto_effect",
    "领导邮箱": "leader_emails", "整改分数线": "rectify_below",
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
    """A number from a scheme cell; "20%" → 20.0 (percent points); empty → NaN; junk → NaN."""
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    text = clean_text(value).replace(",", "").rstrip("%")
    try:
        return float(text)
    except ValueError:
        return math.nan


def parse_share(value: object) -> float:
    """A share written 20% or 0.2 (or 20 meaning percent) → 0.2."""
    text = clean_text(value)
    if not text:
        return math.nan
    number = parse_number(text)
    if text.endswith("%") or number > 1:
        return number / 100
    return number


def split_groups(value: object) -> list[str]:
    text = clean_text(value)
    return [part for part in GROUP_SEPARATORS.split(text) if part]


class _Problems:
    def __init__(self):
        self.items: list[tuple[str, int | None, str]] = []

    def add(self, sheet: str, row: int | None, text: str) -> None:
        self.items.append((sheet, row, text))


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
        problems.add(sheet, None, f"找不到表头行，表头须包含：{'、'.join(required)}")
        return pd.DataFrame(columns=names)
    records = []
    for index in range(table.header_row + 1, len(rows)):
        row = rows[index]
        if not any(clean_text(cell) for cell in row):
            continue
        record = {code: table.get(row, zh) for zh, code in columns.items()}
        record["xlsx_row"] = index + 1
        records.append(record)
    return pd.DataFrame(records, columns=names).astype(object)


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
            values[key] = row[value_col] if value_col < len(row) else ""
            rownum[key] = index + 1
    extra = {k: clean_text(v) for k, v in values.items() if k not in META_KEYS}

    def text(key: str) -> str:
        return clean_text(values.get(key, ""))

    name, period = text("考核名称"), _period_text(values.get("考核周期", ""), text("周期类型"))
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
    quota = parse_share(values.get("优秀比例上限", ""))
    if text("优秀比例上限") and (math.isnan(quota) or not 0 <= quota <= 1):
        problems.add("方案", rownum.get("优秀比例上限"), f"「优秀比例上限」应为 0–100% 之间的比例，现为「{text('优秀比例上限')}」")
    rectify = parse_number(values.get("整改分数线", ""))
    period_type = text("周期类型") or "年度"
    if period_type not in ("年度", "季度", "月度"):
        problems.add("方案", rownum.get("周期类型"), f"「周期类型」只能是 年度 / 季度 / 月度，现为「{period_type}」")
    return SchemeMeta(
        name=name,
        period=period,
        period_type=period_type,
        issuer=text("发文机关"),
        doc_number=text("文号"),
        total_mode=choice("总分折算", TOTAL_MODES),
        bonus_cap=None if math.isnan(bonus_cap) else bonus_cap,
        excellent_quota=1.0 if math.isnan(quota) else quota,
        veto_effect=choice("否决效果", VETO_EFFECTS),
        leader_emails=[e for e in re.split(r"[;；,，\s]+", text("领导邮箱")) if e],
        rectify_below=None if math.isnan(rectify) else rectify,
        extra=extra,
    )


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
    frame["min_score"] = frame["min_score"].map(parse_number)
    for row in frame.itertuples():
        if not row.grade:
            problems.add("等次", row.xlsx_row, "「等次」不能为空")
        if math.isnan(row.min_score):
            problems.add("等次", row.xlsx_row, f"等次「{row.grade}」的「最低分」应为数字")
    for grade in frame.loc[frame["grade"].duplicated() & (frame["grade"] != ""), "grade"]:
        problems.add("等次", None, f"等次「{grade}」重复")
    if frame.empty and "等次" in sheets:
        problems.add("等次", None, "至少需要一个等次")
    frame = frame.sort_values("min_score", ascending=False, kind="stable")
    return frame[["grade", "min_score"]].reset_index(drop=True)


def _parse_units(sheets, problems: _Problems) -> pd.DataFrame:
    frame = _table_rows(sheets, "单位", UNIT_COLUMNS, ["单位代码", "单位名称", "考核类别"], problems)
    for column in UNIT_COLUMNS.values():
        frame[column] = frame[column].map(clean_text)
    for row in frame.itertuples():
        if not UNIT_CODE_PATTERN.match(row.unit_code):
            problems.add("单位", row.xlsx_row, f"单位代码「{row.unit_code}」不合规：只能用字母、数字、_ 和 -，最长32位")
        if not row.unit_name:
            problems.add("单位", row.xlsx_row, f"单位「{row.unit_code}」的「单位名称」不能为空")
        if not row.group:
            problems.add("单位", row.xlsx_row, f"单位「{row.unit_code}」的「考核类别」不能为空")
    for row in frame[frame["unit_code"].duplicated(keep="first") & (frame["unit_code"] != "")].itertuples():
        problems.add("单位", row.xlsx_row, f"单位代码「{row.unit_code}」重复")
    if frame.empty and "单位" in sheets:
        problems.add("单位", None, "没有任何被考核单位")
    return frame.drop(columns="xlsx_row").reset_index(drop=True)


def _parse_tiers(sheets, problems: _Problems) -> pd.DataFrame:
    frame = _table_rows(sheets, "档次表", TIER_COLUMNS, ["档次表", "得分比例"], problems, optional_sheet=True)
    frame["tier_table"] = frame["tier_table"].map(clean_text)
    frame["level"] = frame["level"].map(clean_text)
    frame["lower"] = frame["lower"].map(parse_number)
    frame["share"] = frame["share"].map(parse_share)
    for row in frame.itertuples():
        if not row.tier_table:
            problems.add("档次表", row.xlsx_row, "「档次表」名称不能为空")
        if math.isnan(row.share) or row.share < 0:
            problems.add("档次表", row.xlsx_row, f"档次表「{row.tier_table}」的「得分比例」应为不小于0的数（如 0.8 或 80%）")
        if math.isnan(row.lower) and not row.level:
            problems.add("档次表", row.xlsx_row, f"档次表「{row.tier_table}」每行须填「下限」（阶梯）或「等级」（定性）")
    return frame.drop(columns="xlsx_row").reset_index(drop=True)


def _parse_indicators(sheets, problems: _Problems, groups: list[str], tiers: pd.DataFrame) -> pd.DataFrame:
    frame = _table_rows(sheets, "指标", INDICATOR_COLUMNS, INDICATOR_REQUIRED, problems)
    text_columns = ["indicator_code", "category", "subcategory", "name", "measure_unit", "method", "direction",
                    "tier_table", "source", "lead_unit", "description", "missing_rule"]
    for column in text_columns:
        frame[column] = frame[column].map(clean_text)
    for column in NUMERIC_INDICATOR_COLUMNS:
        frame[column] = frame[column].map(parse_number)
    frame["base_share"] = frame["base_share"].map(lambda v: v / 100 if v > 1 else v)
    # a tolerance is a share: "0.5%" and 0.005 mean the same
    frame["tolerance"] = frame["tolerance"].map(lambda v: parse_number(v) / 100 if clean_text(v).endswith("%") else parse_number(v))
    raw_groups = frame["groups"].map(clean_text)
    frame["groups"] = raw_groups.map(lambda v: ALL_GROUPS if v == ALL_GROUPS else split_groups(v))
    known_tables = set(tiers["tier_table"])
    for row in frame.itertuples():
        where = f"指标「{row.indicator_code or row.name}」"
        if not row.indicator_code:
            problems.add("指标", row.xlsx_row, "「指标代码」不能为空")
        if not row.name:
            problems.add("指标", row.xlsx_row, f"{where}的「指标名称」不能为空")
        if row.method not in METHOD_NAMES:
            problems.add("指标", row.xlsx_row, f"{where}的计分方法「{row.method}」未知，可用：{'、'.join(METHOD_NAMES)}")
        if row.direction not in DIRECTIONS:
            problems.add("指标", row.xlsx_row, f"{where}的「方向」只能是 正向 或 反向，现为「{row.direction}」")
        if row.source not in SOURCES:
            problems.add("指标", row.xlsx_row, f"{where}的「数据来源」只能是 自报 或 评定，现为「{row.source}」")
        if row.missing_rule not in MISSING_RULES:
            problems.add("指标", row.xlsx_row, f"{where}的「缺项处理」只能是 归一化 或 均值，现为「{row.missing_rule}」")
        if math.isnan(row.points) or row.points <= 0:
            problems.add("指标", row.xlsx_row, f"{where}的「分值」应为正数")
        if row.groups != ALL_GROUPS:
            if not row.groups:
                problems.add("指标", row.xlsx_row, f"{where}的「适用类别」不能为空（填“全部”或类别名称）")
            for group in row.groups:
                if group not in groups:
                    problems.add("指标", row.xlsx_row, f"{where}的适用类别「{group}」没有任何单位（单位表中的类别：{'、'.join(groups)}）")
        if not math.isnan(row.base_share) and not 0 <= row.base_share <= 1:
            problems.add("指标", row.xlsx_row, f"{where}的「基本分比例」应在 0–1 之间")
        if not math.isnan(row.tolerance) and not 0 <= row.tolerance < 1:
            problems.add("指标", row.xlsx_row, f"{where}的「核对容差」应为 0–100% 之间的比例（如 0.5%）")
        if not math.isnan(row.cap) and row.cap < 1:
            problems.add("指标", row.xlsx_row, f"{where}的「上限系数」不应小于1")
        if row.method in ("阶梯", "定性"):
            if not row.tier_table:
                problems.add("指标", row.xlsx_row, f"{where}使用{row.method}法，须在「档次表」列填写档次表名称")
            elif row.tier_table not in known_tables:
                problems.add("指标", row.xlsx_row, f"{where}的档次表「{row.tier_table}」在「档次表」工作表中不存在")
            else:
                table = tiers[tiers["tier_table"] == row.tier_table]
                if row.method == "阶梯" and table["lower"].isna().all():
                    problems.add("指标", row.xlsx_row, f"{where}的档次表「{row.tier_table}」没有「下限」，不能用于阶梯法")
                if row.method == "定性" and (table["level"] == "").all():
                    problems.add("指标", row.xlsx_row, f"{where}的档次表「{row.tier_table}」没有「等级」，不能用于定性法")
        if row.method in ("差额扣分", "扣分") and (math.isnan(row.step) or row.step < 0):
            problems.add("指标", row.xlsx_row, f"{where}使用{row.method}法，须填写「每项分值」（每差1个单位扣的分）")
        if row.method == "功效系数" and math.isnan(row.full) != math.isnan(row.floor):
            problems.add("指标", row.xlsx_row, f"{where}使用功效系数法，「满分值」和「不允许值」须同时填写或同时留空（留空按组内最优、最差值）")
    for row in frame[frame["indicator_code"].duplicated() & (frame["indicator_code"] != "")].itertuples():
        problems.add("指标", row.xlsx_row, f"指标代码「{row.indicator_code}」重复")
    frame["direction"] = frame["direction"].map(lambda v: DIRECTIONS.get(v, "higher"))
    frame["source"] = frame["source"].map(lambda v: SOURCES.get(v, "self"))
    frame["missing_rule"] = frame["missing_rule"].map(lambda v: MISSING_RULES.get(v, "normalize"))
    frame["order"] = range(len(frame))
    return frame.reset_index(drop=True)


def _parse_targets(sheets, problems: _Problems, units: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    frame = _table_rows(sheets, "目标分解", TARGET_COLUMNS, ["单位代码", "指标代码"], problems, optional_sheet=True)
    frame["unit_code"] = frame["unit_code"].map(clean_text)
    frame["indicator_code"] = frame["indicator_code"].map(clean_text)
    for column in PARAMETER_COLUMNS:
        frame[column] = frame[column].map(parse_number)
    exempt_text = frame["exempt"].map(clean_text)
    unit_groups = dict(zip(units["unit_code"], units["group"]))
    indicator_groups = dict(zip(indicators["indicator_code"], indicators["groups"]))
    for row, flag in zip(frame.itertuples(), exempt_text):
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
    frame = _table_rows(sheets, "权重", WEIGHT_COLUMNS, ["一级指标", "权重"], problems, optional_sheet=True)
    frame["category"] = frame["category"].map(clean_text)
    frame["group"] = frame["group"].map(clean_text)
    frame["weight"] = frame["weight"].map(lambda v: parse_number(v))
    categories = set(indicators["category"])
    for row in frame.itertuples():
        if row.category not in categories:
            problems.add("权重", row.xlsx_row, f"一级指标「{row.category}」在「指标」表中不存在")
        if math.isnan(row.weight) or row.weight < 0:
            problems.add("权重", row.xlsx_row, f"一级指标「{row.category}」的「权重」应为非负数")
        if row.group and row.group not in groups:
            problems.add("权重", row.xlsx_row, f"考核类别「{row.group}」没有任何单位")
    for row in frame[frame.duplicated(["category", "group"])].itertuples():
        problems.add("权重", row.xlsx_row, f"一级指标「{row.category}」的权重重复")
    return frame.drop(columns="xlsx_row").reset_index(drop=True)


def _parse_adjustments(sheets, problems: _Problems) -> pd.DataFrame:
    frame = _table_rows(sheets, "加扣分", ADJUSTMENT_COLUMNS, ["项目代码", "类型", "项目名称"], problems, optional_sheet=True)
    for column in ("item_code", "kind", "name"):
        frame[column] = frame[column].map(clean_text)
    frame["step"] = frame["step"].map(parse_number)
    frame["item_cap"] = frame["item_cap"].map(parse_number)
    evidence = frame["needs_evidence"].map(clean_text)
    for row, flag in zip(frame.itertuples(), evidence):
        where = f"加扣分项目「{row.item_code or row.name}」"
        if not row.item_code:
            problems.add("加扣分", row.xlsx_row, "「项目代码」不能为空")
        if row.kind not in ADJUSTMENT_KINDS:
            problems.add("加扣分", row.xlsx_row, f"{where}的「类型」只能是 加分 / 扣分 / 否决，现为「{row.kind}」")
        elif row.kind != "否决" and (math.isnan(row.step) or row.step < 0):
            problems.add("加扣分", row.xlsx_row, f"{where}的「每项分值」应为非负数")
        if flag not in YES and flag not in NO:
            problems.add("加扣分", row.xlsx_row, f"{where}的「需佐证」只能填 是 或 否")
    for row in frame[frame["item_code"].duplicated() & (frame["item_code"] != "")].itertuples():
        problems.add("加扣分", row.xlsx_row, f"项目代码「{row.item_code}」重复")
    frame["kind"] = frame["kind"].map(lambda v: ADJUSTMENT_KINDS.get(v, "bonus"))
    frame["needs_evidence"] = evidence.isin(YES)
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
    checks = [
        (frame["method"].isin(["完成率", "阶梯"]) & ~(frame["target"] > 0), "须有大于0的「目标值」"),
        ((frame["method"] == "基本满分") & (frame["base"].isna() | frame["full"].isna()), "须有「基本值」和「满分值」"),
        ((frame["method"] == "基本满分") & higher & (frame["full"] <= frame["base"]), "正向指标的「满分值」应大于「基本值」"),
        ((frame["method"] == "基本满分") & ~higher & (frame["full"] >= frame["base"]), "反向指标的「满分值」应小于「基本值」"),
        ((frame["method"] == "基本满分") & ~(frame["base"] > 0), "「基本值」应大于0（未达基本值时按比例得分）"),
        ((frame["method"] == "功效系数") & higher & (frame["full"] <= frame["floor"]), "正向指标的「满分值」应大于「不允许值」"),
        ((frame["method"] == "功效系数") & ~higher & (frame["full"] >= frame["floor"]), "反向指标的「满分值」应小于「不允许值」"),
    ]
    targets = scheme.unit_targets
    target_rows = dict(zip(zip(targets["unit_code"], targets["indicator_code"]), targets["xlsx_row"]))
    indicator_rows = dict(zip(scheme.indicators["indicator_code"], scheme.indicators["xlsx_row"]))
    seen: set[tuple[str, str]] = set()
    for mask, text in checks:
        for row in frame[mask].itertuples():
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

CONTRACT_SHEETS = ["方案", "等次", "单位", "指标", "目标分解", "档次表", "权重", "加扣分"]


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
    indicators = _parse_indicators(sheets, problems, groups, tiers)
    unit_targets = _parse_targets(sheets, problems, units, indicators)
    weights = _parse_weights(sheets, problems, indicators, groups)
    adjustments = _parse_adjustments(sheets, problems)
    for group in groups:
        applies = indicators["groups"].map(lambda g, group=group: g == ALL_GROUPS or group in g)
        if not applies.any():
            problems.add("指标", None, f"考核类别「{group}」没有任何适用指标")
    scheme = Scheme(meta, grades, units, indicators, unit_targets, tiers, weights, adjustments,
                    fingerprint_sheets(sheets), path)
    if not problems.items:
        _check_parameters(scheme, problems)
    if problems.items:
        raise SchemeInvalid(f"考核方案「{path.name}」有 {len(problems.items)} 处问题，请修改后重试：", problems.items)
    scheme.unit_targets = unit_targets.drop(columns="xlsx_row")
    release_unused()  # the parameter check's unit × indicator table
    return scheme
