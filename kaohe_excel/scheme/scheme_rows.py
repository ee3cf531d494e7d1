"""The scheme's sheets checked row by row (方案, 等次, 单位, 档次表, 指标, 目标分解, 权重, 加扣分, 类别,
节假日): each parser returns its frame with code-name columns and adds every problem it finds to
`_Problems`; nothing raises. The rules are the ones scheme.py's docstring lists. The checks that
need the unit × indicator table (a method's parameters after 目标分解) are scheme._check_parameters."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from kaohe_excel.base.publication import Settings as PublicationSettings
from kaohe_excel.base.publication import parse_settings as parse_publication
from kaohe_excel.scheme.scheme_cells import (
    ADJUSTMENT_KINDS,
    ALL_GROUPS,
    DIRECTIONS,
    GROUP_SEPARATORS,
    LOWER_RULE,
    MISSING_RULES,
    NO,
    QUOTA_ROUNDINGS,
    QUOTA_RULE,
    SHARE_COLUMNS,
    SOURCES,
    TIER_SHARE_RULE,
    TOTAL_MODES,
    UNIT_CODE_PATTERN,
    VETO_EFFECTS,
    WEIGHT_RULE,
    YES,
    _check_one_scale,
    _num_text,
    _pct,
    _Problems,
    parse_number,
    read_share,
    split_groups,
)
from kaohe_excel.scheme.scheme_sheets import (
    ADJUSTMENT_COLUMNS,
    GRADE_COLUMNS,
    GROUP_QUOTA_COLUMNS,
    HOLIDAY_COLUMNS,
    INDICATOR_COLUMNS,
    INDICATOR_REQUIRED,
    META_KEYS,
    METHOD_PARAMETERS,
    NUMERIC_INDICATOR_COLUMNS,
    PARAMETER_COLUMNS,
    SHOWN_META_EXTRA,
    TARGET_COLUMNS,
    TIER_COLUMNS,
    UNIT_COLUMNS,
    WEIGHT_COLUMNS,
    _REQUIRED_HINT,
    _table_rows,
)
from kaohe_excel.base.tables import clean_text, display_text, header_key, locate_table
from kaohe_excel.scoring import methods as _methods

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
    from kaohe_excel.scheme.source_periods import check_source_periods  # w-interim

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
