"""The scheme workbook's sheets: the contract's column tables (Chinese header -> code name), every
sheet's cells read in a child process, a contract table located in a sheet, and the fingerprint of
the contract sheets. Used by scheme_rows and scheme."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from kaohe_excel.base.errors import SchemeNotFound
from kaohe_excel.scheme.scheme_cells import _Problems
from kaohe_excel.base.tables import clean_text, column_letter, header_key, locate_table

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

CONTRACT_SHEETS = ["方案", "等次", "单位", "指标", "目标分解", "档次表", "权重", "加扣分", "类别", "节假日", "测评", "测评人"]
STRUCTURAL_PROBLEMS = ("缺少工作表", "找不到表头行")


SCHEME_MAX_BYTES = 50 * 1024 * 1024


def _read_sheets(path: Path) -> dict[str, list[list]]:
    """Every sheet's cells, read in a child process: the scheme is a file the office edits and
    receives, and a native abort in calamine must end as this one Chinese line, not a dead process."""
    from kaohe_excel.base.hostile import ChildDied, ChildTimedOut, call_isolated, string_table_problem

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
