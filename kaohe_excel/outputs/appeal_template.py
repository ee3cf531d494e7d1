"""复核登记表.xlsx: the office registers each appeal and its conclusion, one row per appeal."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from kaohe_excel.base import origin
from kaohe_excel.base.layout import APPEAL_FILE_NAME, APPEAL_FILE_TYPE, APPEAL_TABLE, FORMAT_VERSION
from kaohe_excel.outputs.template import (
    _body_cell,
    _meta_sheet,
    _note,
    _print_setup,
    _protect,
    _set_widths,
    _signing_key,
    _style_header,
    _title,
    save_workbook_deterministic,
    titled,
)

APPEAL_ROWS = 60


def _list_check(sheet, col: int, header_row: int, count: int, title: str) -> DataValidation:
    letter = get_column_letter(col)
    check = DataValidation(type="list", formula1=f"${letter}${header_row + 1}:${letter}${header_row + max(count, 1)}",
                           allow_blank=True)
    check.error, check.errorTitle = f"请从下拉列表中选择{title}。", "输入有误"
    check.promptTitle, check.prompt = title, f"从下拉列表选择{title}（见右侧列表）。"
    check.showInputMessage = check.showErrorMessage = True
    sheet.add_data_validation(check)
    return check


def write_appeal_workbook(scheme, out_dir: str | Path, key: origin.OfficeKey | None = None) -> Path:
    out_dir = Path(out_dir)
    key = _signing_key(scheme, key)
    out_dir.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = APPEAL_TABLE.sheet
    last_col = len(APPEAL_TABLE.columns)
    _title(sheet, f"{titled(scheme.meta)}复核登记表", last_col)
    _note(sheet, 2, "公示期内单位申请复核的，由考核办逐项登记：每行一个事项，「指标代码」和「项目代码」只填一个；"
                    "复核结论选「维持」或「调整」；调整的，复核值填调整后的指标值（定性指标填等级）或加扣分数量（0表示取消）。"
                    "放入收件箱后重新运行，按调整后的数据计分。", last_col, 45)
    header_row = 3
    _style_header(sheet, header_row, APPEAL_TABLE.columns)
    # The lists' headers differ from the table's: template_guard reads text under an input header as typed data.
    lists = [("单位", list(scheme.units["unit_code"])), ("指标", list(scheme.indicators["indicator_code"])),
             ("项目", list(scheme.adjustments["item_code"])), ("结论", ["维持", "调整"])]
    checks = []
    for offset, (title, codes) in enumerate(lists):
        col = last_col + 2 + offset
        _style_header(sheet, header_row, [title], start_col=col)
        for index, code in enumerate(codes, start=1):
            _body_cell(sheet, header_row + index, col, code, "")
        checks.append(_list_check(sheet, col, header_row, len(codes), title))
    for r in range(header_row + 1, header_row + 1 + APPEAL_ROWS):
        for col, header in enumerate(APPEAL_TABLE.columns, start=1):
            _body_cell(sheet, r, col, None, header, editable=True)
        for check, col in zip(checks, (1, 2, 3, 5)):
            check.add(sheet.cell(row=r, column=col))
    _set_widths(sheet, [10, 10, 10, 30, 10, 10, 36, 3, 9, 9, 9, 9])
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    _print_setup(sheet, f"{header_row}:{header_row}")
    _protect(sheet)
    _meta_sheet(workbook, [("文件类型", APPEAL_FILE_TYPE), ("格式版本", FORMAT_VERSION), ("考核名称", scheme.meta.name),
                           ("考核周期", scheme.meta.period), ("方案指纹", scheme.fingerprint)], key)
    workbook.active = 0
    workbook.properties.title = f"{scheme.meta.name} 复核登记表"
    workbook.properties.creator = "kaohe-excel"
    return save_workbook_deterministic(workbook, out_dir / APPEAL_FILE_NAME)
