"""w-year's part of the sample scheme and inbox: 否决效果 per item, a group's own 优秀 quota,
the 2025 春节 calendar for the 公示, and the 否优 item recorded on one unit by the office.

What it shows: JJ04 县商务局 (the best 县直经济部门 score) loses 优秀 to the 一票否优 item FY01
(取消评优, still scored and ranked); 县直经济部门 has its own quota 40% 四舍五入 (6 × 40% = 2.4 → 2).
"""

from __future__ import annotations

from copy import copy

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.styles import Alignment

ITEM = ("FY01", "否决", "违反中央八项规定精神被通报", None, None, "否",
        "被市级以上纪检监察机关通报的，当年不得评为优秀（一票否优），仍正常计分排名", "取消评优")
OFFICE_CLAIMS = [("JJ04", "FY01", 1, "2024年10月违规公款吃喝问题被市纪委监委通报", "市纪委监委通报（市纪通〔2024〕15号）")]
GROUP_QUOTAS = [("县直经济部门", "40%", "四舍五入", "否")]
# 2025 春节 and its 调休 (the State Council's holiday schedule)
HOLIDAYS = [(f"2025-01-{d}", "休息") for d in (28, 29, 30, 31)] + [(f"2025-02-0{d}", "休息") for d in (1, 2, 3, 4)] \
    + [("2025-01-26", "上班"), ("2025-02-08", "上班")]
META_ROWS = [("公示天数", 5), ("异议受理", "公示期间如有异议，请以书面形式向县委考核办反映（电话：0000-1234567）")]


def extend_sample_scheme(workbook: Workbook, write_sheet) -> None:
    """Add the 否决效果 column and the 否优 item, the 公示 rows, and the 类别 and 节假日 sheets."""
    sheet = workbook["加扣分"]
    column = sheet.max_column + 1
    sheet.cell(row=1, column=column, value="否决效果")._style = copy(sheet.cell(row=1, column=column - 1)._style)
    row = sheet.max_row + 1
    for index, value in enumerate(ITEM, start=1):
        target = sheet.cell(row=row, column=index, value="" if value is None else value)
        target._style = copy(sheet.cell(row=row - 1, column=min(index, column - 1))._style)
    for above in range(2, row):  # the other rows' 否决效果 cells keep the table's borders
        sheet.cell(row=above, column=column)._style = copy(sheet.cell(row=above, column=column - 2)._style)
    sheet.cell(row=row, column=column).alignment = Alignment(vertical="center")
    sheet.column_dimensions[get_column_letter(column)].width = 12
    meta = workbook["方案"]
    for key, value in META_ROWS:
        meta.append([key, value])
    write_sheet(workbook, "类别", ["考核类别", "优秀比例上限", "名额取整", "至少一名"], GROUP_QUOTAS)
    write_sheet(workbook, "节假日", ["日期", "类型"], HOLIDAYS)
