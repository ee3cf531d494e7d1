"""`kaohe template` never destroys what a unit or the office typed.

Templates are often generated into a folder that already holds workbooks: last year's
templates, or (by mistake) the inbox of filled submissions, whose files carry the very names
the templates get. Every target is checked before the first is written: an existing file is
refused unless --overwrite, and even then a workbook whose input cells hold anything is never
replaced.

A workbook counts as filled when
- any unlocked cell (the tool's templates unlock exactly the input cells) holds a value, or
- any column headed by an input header (实际完成值, 佐证材料, 备注, 数量, 事项说明, 评定值, 核定值,
  说明, 项目代码, 评价, 意见) holds a value below its header: this also catches a table copied into a
  new workbook, where every cell is locked by default.
A file that cannot be opened as a workbook is refused as well: nothing shows it is blank.
"""

from __future__ import annotations

from pathlib import Path

from kaohe_excel.base.errors import OutputExists
from kaohe_excel.base.layout import META_SHEET

INPUT_HEADERS = frozenset({"实际完成值", "佐证材料", "备注", "数量", "事项说明", "评定值", "核定值", "说明", "项目代码",
                           "评价", "意见", "复核结论", "复核值", "复核说明", "申请事项"})  # w-appeal: the 复核 columns
HEADER_SCAN_ROWS = 30
MAX_LISTED = 3


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def filled_cells(path: Path, limit: int = MAX_LISTED) -> list[str] | None:
    """Up to `limit` input cells holding data, as 「sheet」C5; [] for a blank workbook; None when unreadable."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, data_only=True)
    except Exception:  # not a workbook, damaged, or locked: it cannot be shown to be blank
        return None
    found: list[str] = []
    try:
        for sheet in workbook.worksheets:
            if sheet.title == META_SHEET:
                continue
            input_columns: dict[int, int] = {}  # column -> header row
            for row in sheet.iter_rows(min_row=1, max_row=min(sheet.max_row, HEADER_SCAN_ROWS)):
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.strip() in INPUT_HEADERS:
                        input_columns.setdefault(cell.column, cell.row)
            for row in sheet.iter_rows():
                for cell in row:
                    if _blank(cell.value):
                        continue
                    header_row = input_columns.get(cell.column)
                    unlocked = cell.protection is not None and cell.protection.locked is False
                    if unlocked or (header_row is not None and cell.row > header_row):
                        found.append(f"「{sheet.title}」表 {cell.coordinate}")
                        if len(found) >= limit:
                            return found
    finally:
        workbook.close()
    return found


def refuse_overwrite(paths: list[Path], overwrite: bool) -> None:
    """Raise OutputExists, before anything is written, when any target exists and may not be replaced."""
    existing = [p for p in paths if p.exists()]
    if not existing:
        return
    folders = [p for p in existing if p.is_dir()]
    if folders:
        raise OutputExists(f"「{folders[0]}」是一个文件夹，模板无法写在这里。请将其改名或移走，或用 --out 换一个目录", folders[0])
    if not overwrite:
        names = "、".join(p.name for p in existing[:MAX_LISTED]) + (f" 等 {len(existing)} 个文件" if len(existing) > MAX_LISTED else "")
        raise OutputExists(f"目录「{existing[0].parent}」中已有同名文件（{names}），未生成任何模板。"
                           "请用 --out 指定一个空目录；如确需替换这些空白模板，加 --overwrite（已填报的表格仍不会被覆盖）",
                           existing[0])
    for path in existing:
        cells = filled_cells(path)
        if cells is None:
            raise OutputExists(f"「{path}」无法作为工作簿打开，不能确认其中没有填报数据，未生成任何模板。"
                               "请先将其移走或改名，再重新生成", path)
        if cells:
            raise OutputExists(f"「{path}」已填有数据（{'、'.join(cells)}），是已报送或正在填报的表格，即使加 --overwrite 也不会覆盖，"
                               "未生成任何模板。请用 --out 指定另一个目录（不要把模板生成到收件箱里）", path)
