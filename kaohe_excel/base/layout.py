"""The template layout: every sheet name, file-type tag, file name and header that the
templates are written with and the reader looks for. The one owner of these names: the
template writers (outputs/) and the readers (inputs/) both take them from here, so the two
can never drift.

A `TableLayout` says both what a template writes (`columns`, in order) and what the reader
needs to recognise the table in a returned file (`required`, found by header text in any
column order) and keeps (`kept`).
"""

from __future__ import annotations

from dataclasses import dataclass

FORMAT_VERSION = "1"
META_SHEET = "_kaohe"  # the hidden sheet of label/value pairs: 文件类型, 考核名称, 校验码 …
FILE_TYPE = "文件类型"  # the label in META_SHEET that names the kind of file

# 文件类型 tags, one per input kind
UNIT_FILE_TYPE = "单位填报表"
ASSESSMENT_FILE_TYPE = "评定表"
LEAD_FILE_TYPE = "牵头单位核定表"
APPEAL_FILE_TYPE = "复核登记表"
BALLOT_FILE_TYPE = "测评票"
PAPER_FILE_TYPE = "测评录入表"
TALLY_FILE_TYPE = "测评汇总表"
RATING_FILE_TYPES = (BALLOT_FILE_TYPE, PAPER_FILE_TYPE, TALLY_FILE_TYPE)

ASSESSMENT_FILE_NAME = "评定表.xlsx"
APPEAL_FILE_NAME = "复核登记表.xlsx"

# the labels above a unit template's table
HEADER_BLOCK_LABELS = ("考核名称", "考核周期", "单位代码", "单位名称")


@dataclass(frozen=True)
class TableLayout:
    """One table of a template.

    >>> UNIT_TABLE.sheet, UNIT_TABLE.required
    ('填报', ('指标代码', '实际完成值'))
    """

    sheet: str  # the sheet's name in a template; the reader tries it first, then every other sheet
    columns: tuple[str, ...]  # what the template writes, in order
    required: tuple[str, ...]  # the headers that identify the table in a returned file
    optional: tuple[str, ...]  # other headers the reader knows
    kept: tuple[str, ...]  # the columns the reader keeps, in this order
    key: str  # the column that names a row
    inputs: tuple[str, ...]  # what a person types: a row with any of these (or its key) typed is read
    scored: str  # the input that is scored (its cell's format, formula and visibility are checked)


UNIT_TABLE = TableLayout(
    sheet="填报",
    columns=("序号", "指标代码", "一级指标", "二级指标", "指标名称", "计量单位", "分值", "计分方法",
             "基本值", "目标值", "满分值", "实际完成值", "佐证材料", "备注", "评分说明"),
    required=("指标代码", "实际完成值"),
    optional=("指标名称", "计量单位", "目标值", "佐证材料", "备注"),
    kept=("指标代码", "实际完成值", "目标值", "佐证材料", "备注", "指标名称", "计量单位"),
    key="指标代码",
    inputs=("实际完成值", "佐证材料", "备注"),
    scored="实际完成值",
)
# a unit's 加扣分 claims (beside its 填报 sheet)
UNIT_CLAIM_TABLE = TableLayout(
    sheet="加扣分",
    columns=("项目代码", "项目名称", "数量", "事项说明", "佐证材料"),
    required=("项目代码", "数量"),
    optional=("单位代码", "事项说明", "佐证材料", "项目名称"),
    kept=("项目代码", "数量", "单位代码", "事项说明", "佐证材料"),
    key="项目代码",
    inputs=("数量", "事项说明", "佐证材料"),
    scored="数量",
)
# the office's record of 加扣分 for any unit (beside the 评定 sheet); read like a unit's claims
OFFICE_CLAIM_TABLE = TableLayout(
    sheet="加扣分",
    columns=("单位代码", "项目代码", "数量", "事项说明", "佐证材料"),
    required=UNIT_CLAIM_TABLE.required,
    optional=UNIT_CLAIM_TABLE.optional,
    kept=UNIT_CLAIM_TABLE.kept,
    key=UNIT_CLAIM_TABLE.key,
    inputs=UNIT_CLAIM_TABLE.inputs,
    scored=UNIT_CLAIM_TABLE.scored,
)
ASSESSMENT_TABLE = TableLayout(
    sheet="评定",
    columns=("单位代码", "单位名称", "指标代码", "指标名称", "计量单位", "目标值", "评定值", "说明", "牵头单位"),
    required=("单位代码", "指标代码", "评定值"),
    optional=("说明", "单位名称", "指标名称"),
    kept=("单位代码", "指标代码", "评定值", "说明", "单位名称", "指标名称"),
    key="指标代码",
    inputs=("评定值",),
    scored="评定值",
)
LEAD_TABLE = TableLayout(
    sheet="核定",
    columns=("单位代码", "单位名称", "指标代码", "指标名称", "计量单位", "目标值", "核定值", "说明"),
    required=("单位代码", "指标代码", "核定值"),
    optional=("说明", "单位名称", "指标名称"),
    kept=("单位代码", "指标代码", "核定值", "说明", "单位名称", "指标名称"),
    key="指标代码",
    inputs=("核定值", "说明"),
    scored="核定值",
)
APPEAL_TABLE = TableLayout(
    sheet="复核",
    columns=("单位代码", "指标代码", "项目代码", "申请事项", "复核结论", "复核值", "复核说明"),
    required=("单位代码", "指标代码", "项目代码", "复核结论", "复核值"),
    optional=("申请事项", "复核说明", "单位名称"),
    kept=("单位代码", "指标代码", "项目代码", "申请事项", "复核结论", "复核值", "复核说明"),
    key="单位代码",
    inputs=("单位代码", "指标代码", "项目代码", "申请事项", "复核结论", "复核值", "复核说明"),
    scored="复核值",
)


@dataclass(frozen=True)
class RatingLayout:
    """A 测评 workbook's table: its columns depend on the scheme (one per unit or per grade), so
    the reader finds the header row by one key header (plus `also`) and keeps every header cell."""

    sheet: str
    key: str
    also: tuple[str, ...] = ()


BALLOT_HEADERS = ("单位代码", "单位名称", "考核类别", "评价", "意见")
BALLOT_TABLE = RatingLayout(sheet="测评票", key="单位代码", also=("评价",))
PAPER_TABLE = RatingLayout(sheet="测评录入", key="票号")
TALLY_TABLE = RatingLayout(sheet="测评汇总", key="单位代码")
