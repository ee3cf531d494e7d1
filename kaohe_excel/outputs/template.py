"""Unit templates (单位填报表) and the office's assessment workbook (评定表), generated
from the scheme so the two can never drift.

Sheet names, headers and file-type tags come from base/layout.py, which the readers use too
(docs/architecture.md, "Template layout").
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Iterable

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from kaohe_excel.base import origin
from kaohe_excel.base.layout import (
    ASSESSMENT_FILE_NAME,
    ASSESSMENT_FILE_TYPE,
    ASSESSMENT_TABLE,
    FORMAT_VERSION,
    LEAD_FILE_TYPE,
    LEAD_TABLE,
    META_SHEET,
    OFFICE_CLAIM_TABLE,
    UNIT_CLAIM_TABLE,
    UNIT_FILE_TYPE,
    UNIT_TABLE,
)
from kaohe_excel.base import text_width
from kaohe_excel.base.safety import safe_filename, xml_safe

CLAIM_ROWS = 20
OFFICE_CLAIM_ROWS = 60

PERCENT_HINT = "填百分数数值，如85.3表示85.3%。"
# Saved into every workbook so regenerating gives byte-identical files.
FIXED_TIMESTAMP = datetime(2024, 1, 1, 0, 0, 0)

# Column A also holds the header block's labels (考核名称 …), hence 9 for 序号.
_WIDTHS = {"序号": 9, "指标代码": 9, "一级指标": 10, "二级指标": 10, "指标名称": 22, "计量单位": 9, "分值": 6,
           "计分方法": 9, "基本值": 8, "目标值": 8, "满分值": 8, "实际完成值": 12, "佐证材料": 16, "备注": 12,
           "评分说明": 38}
_WRAPPED = {"一级指标", "二级指标", "指标名称", "计量单位", "佐证材料", "备注", "评分说明", "事项说明", "说明", "项目名称"}

_FONT = Font(name="宋体", size=10)
_BOLD = Font(name="宋体", size=10, bold=True)
_TITLE_FONT = Font(name="黑体", size=16, bold=True)
_NOTE_FONT = Font(name="宋体", size=9, color="C00000")
_HEADER_FILL = PatternFill("solid", start_color="DDEBF7")
_INPUT_FILL = PatternFill("solid", start_color="FFFF99")
_LABEL_FILL = PatternFill("solid", start_color="F2F2F2")
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_LOCKED = Protection(locked=True)
_UNLOCKED = Protection(locked=False)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=False)
_LEFT_WRAP = Alignment(horizontal="left", vertical="center", wrap_text=True)

_YES_NO_LEVELS = ("是", "否")


# ---------------------------------------------------------------- small helpers

def display_width(value: object) -> int:
    """Columns a text takes in Excel: CJK and full-width characters count twice."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    return text_width.display_width(value)


def template_file_name(unit_code: str, unit_name: str) -> str:
    """`<单位代码>_<单位名称>.xlsx`, harmless as a file name on every system."""
    return safe_filename(f"{unit_code}_{unit_name}") + ".xlsx"


def save_workbook_deterministic(workbook: Workbook, path: str | Path) -> Path:
    """Save with fixed document and zip timestamps, so equal content gives equal bytes."""
    path = Path(path)
    workbook.properties.created = FIXED_TIMESTAMP
    buffer = io.BytesIO()
    workbook.save(buffer)
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                # openpyxl stamps "modified" with the current time on every save.
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return path


def _blank(value: object) -> object:
    """A cell value: NaN/None become empty, whole floats become ints (12.0 prints 12)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
    if isinstance(value, str):
        return xml_safe(value)
    return value


def _clip(text: str, limit: int) -> str:
    text = xml_safe(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_percent(measure_unit: object) -> bool:
    return str(measure_unit or "").strip() in ("%", "％", "百分比")


def _levels(scheme, tier_table: str) -> list[str]:
    tiers = scheme.tier_tables
    levels = tiers.loc[(tiers["tier_table"] == tier_table) & (tiers["level"] != ""), "level"]
    return [str(level) for level in levels] or list(_YES_NO_LEVELS)


def _style_header(sheet: Worksheet, row: int, headers: list[str], start_col: int = 1) -> None:
    for offset, header in enumerate(headers):
        cell = sheet.cell(row=row, column=start_col + offset, value=header)
        cell.font, cell.fill, cell.border, cell.alignment, cell.protection = _BOLD, _HEADER_FILL, _BORDER, _CENTER, _LOCKED


def _body_cell(sheet: Worksheet, row: int, col: int, value: object, header: str, editable: bool = False):
    cell = sheet.cell(row=row, column=col, value=_blank(value))
    cell.font, cell.border = _FONT, _BORDER
    cell.alignment = _LEFT_WRAP if header in _WRAPPED else Alignment(horizontal="center", vertical="center")
    cell.protection = _UNLOCKED if editable else _LOCKED
    if editable:
        cell.fill = _INPUT_FILL
        # Text typed into an input cell must stay text ("8.2亿元" is reported, not mangled).
        cell.number_format = "General"
    return cell


def _fit_row_height(sheet: Worksheet, row: int, texts: dict[float, object], line_height: float = 13.5) -> None:
    """Height for wrapped text: neither Excel nor LibreOffice grows a row on open."""
    lines = 1
    for width, text in texts.items():
        if text is None or (isinstance(text, float) and math.isnan(text)):
            continue
        lines = max(lines, math.ceil(display_width(text) / max(1.0, width - 1)))
    sheet.row_dimensions[row].height = max(18.0, lines * line_height + 4)


def _set_widths(sheet: Worksheet, widths: Iterable[float], start_col: int = 1) -> None:
    for offset, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(start_col + offset)].width = width


def _protect(sheet: Worksheet) -> None:
    """Protect without a password; the unit may still resize rows and columns."""
    protection = sheet.protection
    protection.sheet = True
    protection.formatColumns = False
    protection.formatRows = False
    protection.selectLockedCells = False
    protection.selectUnlockedCells = False


def _print_setup(sheet: Worksheet, title_rows: str) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = title_rows
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.75
    sheet.page_margins.footer = 0.3
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"


def _signing_key(scheme, key: origin.OfficeKey | None) -> origin.OfficeKey:
    # Without a key given, the office's own is found (or created once) by origin's rules.
    return key if key is not None else origin.ensure_key(scheme)[0]


def _meta_sheet(workbook: Workbook, pairs: list[tuple[str, str]], key: origin.OfficeKey) -> None:
    """The hidden identity rows, ending with the 校验码 that proves the office made them."""
    pairs = origin.signed_meta(key, pairs)
    sheet = workbook.create_sheet(META_SHEET)
    sheet.append(["项目", "值"])
    for key, value in pairs:
        sheet.append([key, value])
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 70
    sheet.sheet_state = "hidden"
    _protect(sheet)


def titled(meta) -> str:
    """考核名称, with （周期） only when the name does not already say it ("2024年度…（2024）" reads twice)."""
    return meta.name if meta.period in meta.name else f"{meta.name}（{meta.period}）"


def _title(sheet: Worksheet, text: str, last_col: int) -> None:
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last_col)
    cell = sheet.cell(row=1, column=1, value=xml_safe(text))
    cell.font, cell.alignment, cell.protection = _TITLE_FONT, Alignment(horizontal="center", vertical="center"), _LOCKED
    sheet.row_dimensions[1].height = 30


def _note(sheet: Worksheet, row: int, text: str, last_col: int, height: float = 30) -> None:
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last_col)
    cell = sheet.cell(row=row, column=1, value=text)
    cell.font, cell.alignment, cell.protection = _NOTE_FONT, _LEFT_WRAP, _LOCKED
    sheet.row_dimensions[row].height = height


def _value_validation(row: pd.Series, levels: list[str] | None) -> DataValidation:
    """The check Excel applies to one 实际完成值/评定值 cell, with the 评分说明 as its input message."""
    description = str(row.get("description") or "")
    if levels is not None:
        validation = DataValidation(type="list", formula1='"' + ",".join(levels) + '"', allow_blank=True)
        validation.error = _clip(f"请从下拉列表中选择：{'、'.join(levels)}", 255)
        prompt = f"请选择：{'、'.join(levels)}。{description}"
    else:
        # Growth rates may be negative; only text is refused here, the range is checked later.
        validation = DataValidation(type="decimal", operator="between", formula1="-1000000000000",
                                    formula2="1000000000000", allow_blank=True)
        validation.error = "请填写数字（不要带单位或文字，说明写在“备注”列）。"
        prompt = (PERCENT_HINT if _is_percent(row.get("measure_unit")) else "") + description
    validation.errorTitle = "输入有误"
    validation.errorStyle = "stop"
    validation.promptTitle = _clip(f"{row['indicator_code']} {row['name']}", 32)
    validation.prompt = _clip(prompt, 255)
    validation.showInputMessage = True
    validation.showErrorMessage = True
    return validation


# ---------------------------------------------------------------- unit templates

def _fill_sheet(workbook: Workbook, scheme, unit: pd.Series, rows: pd.DataFrame) -> None:
    sheet = workbook.active
    sheet.title = UNIT_TABLE.sheet
    last_col = len(UNIT_TABLE.columns)
    meta = scheme.meta
    _title(sheet, f"{titled(meta)}填报表", last_col)
    block = [("考核名称", meta.name), ("考核周期", meta.period), ("单位代码", unit["unit_code"]), ("单位名称", unit["unit_name"])]
    for offset, (label, value) in enumerate(block):
        r = 2 + offset
        label_cell = sheet.cell(row=r, column=1, value=label)
        label_cell.font, label_cell.fill, label_cell.border, label_cell.protection = _BOLD, _LABEL_FILL, _BORDER, _LOCKED
        sheet.merge_cells(start_row=r, start_column=2, end_row=r, end_column=5)
        value_cell = sheet.cell(row=r, column=2, value=xml_safe(value))
        value_cell.font, value_cell.alignment, value_cell.protection = _FONT, _LEFT, _LOCKED
        value_cell.number_format = "@"
        for col in range(2, 6):
            sheet.cell(row=r, column=col).border = _BORDER
    _note(sheet, 6, "填报说明：只在黄色单元格中填写“实际完成值”“佐证材料”“备注”，其他单元格已锁定。"
                    "实际完成值只填数字，不带单位；计量单位为%的填百分数数值（如85.3表示85.3%）；"
                    "定性指标从下拉列表中选择。请勿增删行列、修改表头或另存为其他格式。", last_col, 32)
    header_row = 7
    _style_header(sheet, header_row, UNIT_TABLE.columns)
    sheet.row_dimensions[header_row].height = 28
    value_col = UNIT_TABLE.columns.index("实际完成值") + 1
    for index, (_, row) in enumerate(rows.iterrows(), start=1):
        r = header_row + index
        values = {
            "序号": index, "指标代码": row["indicator_code"], "一级指标": row["category"],
            "二级指标": row.get("subcategory", ""), "指标名称": row["name"], "计量单位": row["measure_unit"],
            "分值": row["points"], "计分方法": row["method"], "基本值": row["base"], "目标值": row["target"],
            "满分值": row["full"], "实际完成值": None, "佐证材料": None, "备注": None,
            "评分说明": row.get("description", ""),
        }
        for col, header in enumerate(UNIT_TABLE.columns, start=1):
            _body_cell(sheet, r, col, values[header], header, editable=header in UNIT_TABLE.inputs)
        _fit_row_height(sheet, r, {_WIDTHS[h]: values[h] for h in ("一级指标", "二级指标", "指标名称", "评分说明")})
        levels = _levels(scheme, row["tier_table"]) if row["method"] == "定性" else None
        validation = _value_validation(row, levels)
        sheet.add_data_validation(validation)
        validation.add(sheet.cell(row=r, column=value_col))
    _set_widths(sheet, [_WIDTHS[h] for h in UNIT_TABLE.columns])
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=UNIT_TABLE.columns.index("指标名称") + 2)
    _print_setup(sheet, f"{header_row}:{header_row}")
    _protect(sheet)


def _claim_sheet(workbook: Workbook, scheme) -> None:
    sheet = workbook.create_sheet(UNIT_CLAIM_TABLE.sheet)
    last_col = len(UNIT_CLAIM_TABLE.columns)
    bonus = scheme.adjustments[scheme.adjustments["kind"] == "bonus"].reset_index(drop=True)
    _title(sheet, "加分事项申报", last_col)
    _note(sheet, 2, "在黄色单元格中申报本单位的加分事项：项目代码从下拉列表选择（见右侧可申报项目），"
                    "数量填整数，须附佐证材料的请写明文件名称或文号。没有加分事项的留空。", last_col, 45)
    header_row = 3
    _style_header(sheet, header_row, UNIT_CLAIM_TABLE.columns)
    ref_col = last_col + 2
    ref_headers = ["代码", "可申报加分项目", "每项分值", "单项上限", "需佐证材料"]
    _style_header(sheet, header_row, ref_headers, start_col=ref_col)
    for index, item in bonus.iterrows():
        r = header_row + 1 + index
        ref = [item["item_code"], item["name"], item["step"], item["item_cap"], "是" if item["needs_evidence"] else "否"]
        for offset, value in enumerate(ref):
            _body_cell(sheet, r, ref_col + offset, value, "项目名称" if offset == 1 else "")
    codes = [str(c) for c in bonus["item_code"]]
    code_list = ", ".join(f"{c} {n}" for c, n in zip(bonus["item_code"], bonus["name"]))
    if codes:
        first, last = header_row + 1, header_row + len(codes)
        letter = get_column_letter(ref_col)
        code_check = DataValidation(type="list", formula1=f"${letter}${first}:${letter}${last}", allow_blank=True)
        code_check.error = "请从下拉列表中选择加分项目代码。"
        code_check.errorTitle = "输入有误"
        code_check.promptTitle = "加分项目代码"
        code_check.prompt = _clip(f"从下拉列表选择：{code_list}", 255)
        code_check.showInputMessage = code_check.showErrorMessage = True
        sheet.add_data_validation(code_check)
    count_check = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
    count_check.error = "数量应为不小于0的整数。"
    count_check.errorTitle = "输入有误"
    count_check.promptTitle = "数量"
    count_check.prompt = "填整数，如获得2项省级表彰填2。"
    count_check.showInputMessage = count_check.showErrorMessage = True
    sheet.add_data_validation(count_check)
    for r in range(header_row + 1, header_row + 1 + CLAIM_ROWS):
        for col, header in enumerate(UNIT_CLAIM_TABLE.columns, start=1):
            _body_cell(sheet, r, col, None, header, editable=True)
        if codes:
            code_check.add(sheet.cell(row=r, column=1))
        count_check.add(sheet.cell(row=r, column=3))
    _set_widths(sheet, [10, 24, 8, 36, 30])
    _set_widths(sheet, [3], start_col=last_col + 1)
    _set_widths(sheet, [8, 24, 9, 9, 11], start_col=ref_col)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    _print_setup(sheet, f"{header_row}:{header_row}")
    _protect(sheet)


def _with_indicator_text(frame: pd.DataFrame, scheme) -> pd.DataFrame:
    """Add the indicator's descriptive texts, which assignments() does not promise to carry."""
    frame = frame.copy()
    indicators = scheme.indicators.set_index("indicator_code")
    for column in ("subcategory", "description", "lead_unit"):
        source = indicators[column] if column in indicators else pd.Series(dtype=object)
        frame[column] = frame["indicator_code"].map(source).fillna("")
    return frame


def _unit_rows(assignments: pd.DataFrame, unit_code: str) -> pd.DataFrame:
    mine = assignments[(assignments["unit_code"] == unit_code) & (assignments["source"] == "self") & ~assignments["exempt"]]
    return mine.sort_values("order", kind="stable")


def write_templates(scheme, out_dir: str | Path, units: Iterable[str] | None = None,
                    key: origin.OfficeKey | None = None) -> list[Path]:
    """One fill-in workbook per unit (only its group's self-reported, non-exempt indicators)."""
    out_dir = Path(out_dir)
    key = _signing_key(scheme, key)
    out_dir.mkdir(parents=True, exist_ok=True)
    assignments = _with_indicator_text(scheme.assignments(), scheme)
    chosen = scheme.units if units is None else scheme.units[scheme.units["unit_code"].isin(list(units))]
    paths = []
    for _, unit in chosen.iterrows():
        rows = _unit_rows(assignments, unit["unit_code"])
        workbook = Workbook()
        _fill_sheet(workbook, scheme, unit, rows)
        _claim_sheet(workbook, scheme)
        _meta_sheet(workbook, [
            ("文件类型", UNIT_FILE_TYPE), ("格式版本", FORMAT_VERSION), ("考核名称", scheme.meta.name),
            ("考核周期", scheme.meta.period), ("方案指纹", scheme.fingerprint), ("单位代码", unit["unit_code"]),
            ("指标代码", ",".join(rows["indicator_code"])),
        ], key)
        workbook.active = 0
        workbook.properties.title = f"{scheme.meta.name} {unit['unit_name']}填报表"
        workbook.properties.creator = "kaohe-excel"
        path = out_dir / template_file_name(unit["unit_code"], unit["unit_name"])
        paths.append(save_workbook_deterministic(workbook, path))
    return paths


# ---------------------------------------------------------------- 评定表

def assessment_rows(scheme) -> pd.DataFrame:
    """Unit × 评定 indicator rows the office fills, grouped by indicator (one lead unit's block together)."""
    assignments = scheme.assignments()
    rows = assignments[(assignments["source"] == "assessed") & ~assignments["exempt"]].copy()
    unit_order = {code: i for i, code in enumerate(scheme.units["unit_code"])}
    rows["_unit_order"] = rows["unit_code"].map(unit_order)
    rows = rows.sort_values(["order", "_unit_order"], kind="stable").drop(columns="_unit_order")
    return _with_indicator_text(rows, scheme).reset_index(drop=True)


def _validate_value_cell(sheet: Worksheet, scheme, row, r: int, value_col: int) -> None:
    """The input cell of one unit × indicator row: numbers, or the 定性 levels as a dropdown."""
    levels = _levels(scheme, row["tier_table"]) if row["method"] == "定性" else None
    validation = _value_validation(row, levels)
    sheet.add_data_validation(validation)
    validation.add(sheet.cell(row=r, column=value_col))


def _finish_office_sheet(sheet: Worksheet, header_row: int, last_col: int, n_rows: int, widths: list[float]) -> None:
    """Widths, frozen header, filter, print setup and protection of the 评定 and 核定 sheets;
    filtering and sorting stay allowed so the office can work through one block at a time."""
    _set_widths(sheet, widths)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    if n_rows:
        sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(last_col)}{header_row + n_rows}"
    _print_setup(sheet, f"{header_row}:{header_row}")
    _protect(sheet)
    sheet.protection.autoFilter = False
    sheet.protection.sort = False


def _assessment_sheet(workbook: Workbook, scheme, rows: pd.DataFrame) -> None:
    sheet = workbook.active
    sheet.title = ASSESSMENT_TABLE.sheet
    last_col = len(ASSESSMENT_TABLE.columns)
    _title(sheet, f"{titled(scheme.meta)}评定表", last_col)
    _note(sheet, 2, "由考核办或牵头单位在黄色单元格中填写评定值：数值指标填数字（%指标填百分数数值，如85.3表示85.3%），"
                    "定性指标从下拉列表中选择等级；“说明”填评定依据。", last_col, 32)
    header_row = 3
    _style_header(sheet, header_row, ASSESSMENT_TABLE.columns)
    value_col = ASSESSMENT_TABLE.columns.index("评定值") + 1
    for index, (_, row) in enumerate(rows.iterrows(), start=1):
        r = header_row + index
        values = [row["unit_code"], row["unit_name"], row["indicator_code"], row["name"], row["measure_unit"],
                  row["target"], None, None, row["lead_unit"]]
        for col, (header, value) in enumerate(zip(ASSESSMENT_TABLE.columns, values), start=1):
            _body_cell(sheet, r, col, value, header, editable=header in ("评定值", "说明"))
        _fit_row_height(sheet, r, {18: row["unit_name"], 28: row["name"], 26: row["lead_unit"]})
        _validate_value_cell(sheet, scheme, row, r, value_col)
    # The office filters by 牵头单位 to hand each lead department its part.
    _finish_office_sheet(sheet, header_row, last_col, len(rows), [10, 18, 9, 28, 11, 9, 12, 30, 26])


def _office_claim_sheet(workbook: Workbook, scheme) -> None:
    sheet = workbook.create_sheet(OFFICE_CLAIM_TABLE.sheet)
    last_col = len(OFFICE_CLAIM_TABLE.columns)
    items = scheme.adjustments[scheme.adjustments["kind"].isin(["deduction", "veto"])].reset_index(drop=True)
    _title(sheet, "扣分及一票否决事项登记", last_col)
    _note(sheet, 2, "由考核办登记扣分和一票否决事项：单位代码、项目代码从下拉列表选择（见右侧），数量填次数或被扣分值，"
                    "事项说明写明时间和事由。", last_col, 45)
    header_row = 3
    _style_header(sheet, header_row, OFFICE_CLAIM_TABLE.columns)
    unit_col = last_col + 2
    item_col = unit_col + 3
    _style_header(sheet, header_row, ["单位", "名称"], start_col=unit_col)
    _style_header(sheet, header_row, ["代码", "扣分/否决项目", "类型", "每项分值"], start_col=item_col)
    for index, unit in scheme.units.reset_index(drop=True).iterrows():
        _body_cell(sheet, header_row + 1 + index, unit_col, unit["unit_code"], "")
        _body_cell(sheet, header_row + 1 + index, unit_col + 1, unit["unit_name"], "项目名称")
    kinds = {"deduction": "扣分", "veto": "否决", "bonus": "加分"}
    for index, item in items.iterrows():
        for offset, value in enumerate([item["item_code"], item["name"], kinds[item["kind"]], item["step"]]):
            _body_cell(sheet, header_row + 1 + index, item_col + offset, value, "项目名称" if offset == 1 else "")
    checks = []
    for col, count, title in ((unit_col, len(scheme.units), "单位代码"), (item_col, len(items), "项目代码")):
        if not count:
            checks.append(None)
            continue
        letter = get_column_letter(col)
        check = DataValidation(type="list", formula1=f"${letter}${header_row + 1}:${letter}${header_row + count}",
                               allow_blank=True)
        check.error, check.errorTitle = f"请从下拉列表中选择{title}。", "输入有误"
        check.promptTitle, check.prompt = title, f"从下拉列表选择{title}（见右侧列表）。"
        check.showInputMessage = check.showErrorMessage = True
        sheet.add_data_validation(check)
        checks.append(check)
    count_check = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
    count_check.error, count_check.errorTitle = "数量应为不小于0的数。", "输入有误"
    count_check.promptTitle, count_check.prompt = "数量", "填次数；“被上级考核扣分”类项目填被扣分值。"
    count_check.showInputMessage = count_check.showErrorMessage = True
    sheet.add_data_validation(count_check)
    for r in range(header_row + 1, header_row + 1 + OFFICE_CLAIM_ROWS):
        for col, header in enumerate(OFFICE_CLAIM_TABLE.columns, start=1):
            _body_cell(sheet, r, col, None, header, editable=True)
        for check, col in zip(checks, (1, 2)):
            if check is not None:
                check.add(sheet.cell(row=r, column=col))
        count_check.add(sheet.cell(row=r, column=3))
    _set_widths(sheet, [10, 10, 8, 40, 30, 3, 8, 16, 3, 8, 26, 7, 9])
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    _print_setup(sheet, f"{header_row}:{header_row}")
    _protect(sheet)


def write_assessment_workbook(scheme, out_dir: str | Path, key: origin.OfficeKey | None = None) -> Path:
    """评定表.xlsx: one row per unit × 评定 indicator, plus the office's deductions and vetoes."""
    out_dir = Path(out_dir)
    key = _signing_key(scheme, key)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = assessment_rows(scheme)
    workbook = Workbook()
    _assessment_sheet(workbook, scheme, rows)
    _office_claim_sheet(workbook, scheme)
    _meta_sheet(workbook, [
        ("文件类型", ASSESSMENT_FILE_TYPE), ("格式版本", FORMAT_VERSION), ("考核名称", scheme.meta.name),
        ("考核周期", scheme.meta.period), ("方案指纹", scheme.fingerprint),
        ("指标代码", ",".join(dict.fromkeys(rows["indicator_code"]))),
    ], key)
    workbook.active = 0
    workbook.properties.title = f"{scheme.meta.name} 评定表"
    workbook.properties.creator = "kaohe-excel"
    return save_workbook_deterministic(workbook, out_dir / ASSESSMENT_FILE_NAME)


# ---------------------------------------------------------------- 牵头单位核定表

def lead_file_name(lead_unit: str) -> str:
    """`核定表_<牵头单位>.xlsx`, harmless as a file name on every system."""
    return "核定表_" + safe_filename(lead_unit) + ".xlsx"


def lead_rows(scheme) -> pd.DataFrame:
    """Unit × 自报 indicator rows a lead department verifies (non-exempt), by indicator then unit."""
    assignments = _with_indicator_text(scheme.assignments(), scheme)
    rows = assignments[(assignments["source"] == "self") & ~assignments["exempt"] & (assignments["lead_unit"] != "")].copy()
    unit_order = {code: i for i, code in enumerate(scheme.units["unit_code"])}
    rows["_unit_order"] = rows["unit_code"].map(unit_order)
    return rows.sort_values(["order", "_unit_order"], kind="stable").drop(columns="_unit_order").reset_index(drop=True)


def _lead_sheet(workbook: Workbook, scheme, lead_unit: str, rows: pd.DataFrame) -> None:
    sheet = workbook.active
    sheet.title = LEAD_TABLE.sheet
    last_col = len(LEAD_TABLE.columns)
    _title(sheet, f"{scheme.meta.name}（{scheme.meta.period}）{lead_unit}数据核定表", last_col)
    _note(sheet, 2, f"由牵头单位（{lead_unit}）在黄色单元格中填写本部门掌握的各单位数据（核定值），与各单位自报数统一口径："
                    "数值指标只填数字（%指标填百分数数值，如85.3表示85.3%），定性指标从下拉列表选择；"
                    "“说明”填数据来源或与单位自报数不一致的原因。核定值与自报值不一致的，按核定值计分。", last_col, 45)
    header_row = 3
    _style_header(sheet, header_row, LEAD_TABLE.columns)
    value_col = LEAD_TABLE.columns.index("核定值") + 1
    for index, (_, row) in enumerate(rows.iterrows(), start=1):
        r = header_row + index
        values = [row["unit_code"], row["unit_name"], row["indicator_code"], row["name"], row["measure_unit"],
                  row["target"], None, None]
        for col, (header, value) in enumerate(zip(LEAD_TABLE.columns, values), start=1):
            _body_cell(sheet, r, col, value, header, editable=header in LEAD_TABLE.inputs)
        _fit_row_height(sheet, r, {18: row["unit_name"], 28: row["name"]})
        _validate_value_cell(sheet, scheme, row, r, value_col)
    # A department with many indicators filters by 指标 to fill one block at a time.
    _finish_office_sheet(sheet, header_row, last_col, len(rows), [10, 18, 9, 28, 11, 9, 12, 36])


def write_lead_workbooks(scheme, out_dir: str | Path, key: origin.OfficeKey | None = None) -> list[Path]:
    """One `核定表_<牵头单位>.xlsx` per lead department that leads at least one 自报 indicator."""
    out_dir = Path(out_dir)
    key = _signing_key(scheme, key)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = lead_rows(scheme)
    paths = []
    for lead_unit in dict.fromkeys(rows["lead_unit"]):
        mine = rows[rows["lead_unit"] == lead_unit]
        workbook = Workbook()
        _lead_sheet(workbook, scheme, lead_unit, mine)
        _meta_sheet(workbook, [
            ("文件类型", LEAD_FILE_TYPE), ("格式版本", FORMAT_VERSION), ("牵头单位", lead_unit),
            ("考核名称", scheme.meta.name), ("考核周期", scheme.meta.period), ("方案指纹", scheme.fingerprint),
            ("指标代码", ",".join(dict.fromkeys(mine["indicator_code"]))),
        ], key)
        workbook.active = 0
        workbook.properties.title = f"{scheme.meta.name} {lead_unit}核定表"
        workbook.properties.creator = "kaohe-excel"
        paths.append(save_workbook_deterministic(workbook, out_dir / lead_file_name(lead_unit)))
    return paths
