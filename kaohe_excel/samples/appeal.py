"""The sample inbox's 复核登记表: one 调整 on a 相对最优 indicator of one town, so the sample run
shows how an appeal moves the other towns too (复核 and 复核前后对比 in the summary)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from kaohe_excel.outputs.appeal_template import write_appeal_workbook
from kaohe_excel.outputs.template import save_workbook_deterministic

SAMPLE_APPEAL = ("XZ03", "B03")  # 柳河镇, 新增城镇就业人数 (相对最优: the other towns' scores move)


def _reported(folder: Path, unit_code: str, code: str) -> float:
    path = next(folder.glob(f"{unit_code}_*.xlsx"))
    sheet = load_workbook(path, read_only=True)["填报"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if "指标代码" in row and "实际完成值" in row)
    code_col, value_col = rows[header].index("指标代码"), rows[header].index("实际完成值")
    return float(next(row[value_col] for row in rows[header + 1:] if row[code_col] == code))


def write_sample_appeal(scheme, folder: str | Path) -> Path:
    folder = Path(folder)
    unit_code, code = SAMPLE_APPEAL
    group = scheme.units.set_index("unit_code").loc[unit_code, "group"]
    # Above every other town's figure: the town becomes the group's best, so the others' scores move.
    best = max(_reported(folder, other, code) for other in scheme.units.loc[scheme.units["group"] == group, "unit_code"])
    corrected = round(best * 1.05)
    path = write_appeal_workbook(scheme, folder)
    workbook = load_workbook(path)
    sheet = workbook["复核"]
    values = [unit_code, code, None, "漏报第四季度新增就业人数，申请按人社部门台账复核", "调整", corrected,
              "经核对县人力资源和社会保障局就业台账，第四季度新增就业漏报，按台账数调整"]
    for col, value in enumerate(values, start=1):
        sheet.cell(4, col).value = value
    return save_workbook_deterministic(workbook, path)


def fill_sample_appeal(context) -> list[Path]:
    """The sample inbox's 复核登记表 (samples.county.build_sample_inputs)."""
    return [write_sample_appeal(context.scheme, context.folder)]
