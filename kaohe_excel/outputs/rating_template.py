"""The 测评 workbooks `kaohe template` writes: numbered 电子票, the 纸质票 entry table, the 汇总
tally; each signed like every other office workbook (hidden `_kaohe` with its 校验码)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from kaohe_excel.base import origin
from kaohe_excel.base.layout import (
    BALLOT_FILE_TYPE,
    BALLOT_HEADERS,
    BALLOT_TABLE,
    FORMAT_VERSION,
    PAPER_FILE_TYPE,
    PAPER_TABLE,
    TALLY_FILE_TYPE,
    TALLY_TABLE,
)
from kaohe_excel.scheme.rating_scheme import COLLECT_ELECTRONIC, COLLECT_PAPER
from kaohe_excel.base.safety import safe_filename
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



def ballot_file_name(code: str, group: str, number: int) -> str:
    return f"测评票_{safe_filename(code)}_{safe_filename(group)}_{number}.xlsx"


def paper_file_name(code: str, group: str) -> str:
    return f"测评录入表_{safe_filename(code)}_{safe_filename(group)}.xlsx"


def tally_file_name(code: str, group: str) -> str:
    return f"测评汇总表_{safe_filename(code)}_{safe_filename(group)}.xlsx"


def _rated_units(scheme, targets):
    units = scheme.units
    return units if isinstance(targets, str) else units[units["group"].isin(list(targets))]


def _mark_validation(rating) -> DataValidation:
    if rating["mode"] == "grade":
        grades = ",".join(g for g, _ in rating["grades"])
        check = DataValidation(type="list", formula1=f'"{grades}"', allow_blank=True)
        check.error = f"请从下拉列表中选择：{grades.replace(',', '、')}"
    else:
        check = DataValidation(type="decimal", operator="between", formula1="0", formula2=f"{rating['full']:g}", allow_blank=True)
        check.error = f"请填写 0–{rating['full']:g} 之间的分数"
    check.errorTitle = "输入有误"
    check.showErrorMessage = True
    return check


def _identity(scheme, kind, rating, rater, number=None):
    pairs = [("文件类型", kind), ("格式版本", FORMAT_VERSION), ("考核名称", scheme.meta.name),
             ("考核周期", scheme.meta.period), ("方案指纹", scheme.fingerprint),
             ("测评代码", rating["rating_code"]), ("测评人类别", rater["rater_group"])]
    return pairs + ([("票号", str(number))] if number is not None else [])


def _planned(scheme, out_dir: Path):
    ratings = {r["rating_code"]: r for r in scheme.ratings.to_dict("records")}
    for rater in scheme.raters.to_dict("records"):
        rating = ratings[rater["rating_code"]]
        code, group = rating["rating_code"], rater["rater_group"]
        if rater["collect"] == COLLECT_ELECTRONIC:
            for number in range(1, int(rater["expected"]) + 1):
                yield rating, rater, number, out_dir / ballot_file_name(code, group, number)
        elif rater["collect"] == COLLECT_PAPER:
            yield rating, rater, None, out_dir / paper_file_name(code, group)
        else:
            yield rating, rater, None, out_dir / tally_file_name(code, group)


def planned_rating_paths(scheme, out_dir, units=None) -> list[Path]:
    return [path for *_, path in _planned(scheme, Path(out_dir))]


def write_rating_workbooks(scheme, out_dir, key: origin.OfficeKey | None = None) -> list[Path]:
    out_dir = Path(out_dir)
    if not len(scheme.ratings):
        return []
    key = _signing_key(scheme, key)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for rating, rater, number, path in _planned(scheme, out_dir):
        units = _rated_units(scheme, rater["targets"])
        workbook = Workbook()
        sheet = workbook.active
        title = f"{titled(scheme.meta)}{rating['rating_name']}"
        if number is not None:
            kind = BALLOT_FILE_TYPE
            sheet.title = BALLOT_TABLE.sheet
            _title(sheet, f"{title}票（{rater['rater_group']}）", len(BALLOT_HEADERS))
            how = ("在「评价」列从下拉列表选择等级" if rating["mode"] == "grade" else f"在「评价」列填写 0–{rating['full']:g} 的分数")
            _note(sheet, 2, f"票号 {number}。请{how}，「意见」可写建议。本票不记名。", len(BALLOT_HEADERS))
            _style_header(sheet, 3, BALLOT_HEADERS)
            check = _mark_validation(rating)
            sheet.add_data_validation(check)
            for i, unit in enumerate(units.itertuples(), start=4):
                for col, (header, value) in enumerate(zip(BALLOT_HEADERS, [unit.unit_code, unit.unit_name, unit.group, None, None]), 1):
                    _body_cell(sheet, i, col, value, header, editable=header in ("评价", "意见"))
                check.add(sheet.cell(row=i, column=4))
            _set_widths(sheet, [10, 22, 14, 14, 40])
        elif rater["collect"] == COLLECT_PAPER:
            kind = PAPER_FILE_TYPE
            sheet.title = PAPER_TABLE.sheet
            last = len(units) + 1
            _title(sheet, f"{title}纸质票录入表（{rater['rater_group']}）", max(last, 2))
            sheet.cell(row=2, column=1, value="单位名称")
            for col, unit in enumerate(units.itertuples(), start=2):
                sheet.cell(row=2, column=col, value=unit.unit_name)
            _style_header(sheet, 3, ["票号"] + list(units["unit_code"]))
            check = _mark_validation(rating)
            sheet.add_data_validation(check)
            for r in range(4, 4 + int(rater["expected"])):
                for col in range(1, last + 1):
                    _body_cell(sheet, r, col, None, "", editable=True)
                check.add(f"B{r}:{get_column_letter(last)}{r}")
            _set_widths(sheet, [8] + [12] * len(units))
        else:
            kind = TALLY_FILE_TYPE
            sheet.title = TALLY_TABLE.sheet
            grades = [g for g, _ in rating["grades"]]
            headers = ["单位代码", "单位名称"] + grades
            _title(sheet, f"{title}票数汇总表（{rater['rater_group']}）", len(headers))
            _note(sheet, 2, "每个单位填写各等级的票数（不小于0的整数）。", len(headers))
            _style_header(sheet, 3, headers)
            check = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
            check.error, check.errorTitle, check.showErrorMessage = "票数应为不小于0的整数", "输入有误", True
            sheet.add_data_validation(check)
            for i, unit in enumerate(units.itertuples(), start=4):
                _body_cell(sheet, i, 1, unit.unit_code, "")
                _body_cell(sheet, i, 2, unit.unit_name, "")
                for col in range(3, 3 + len(grades)):
                    _body_cell(sheet, i, col, None, "", editable=True)
                    check.add(sheet.cell(row=i, column=col))
            _set_widths(sheet, [10, 22] + [10] * len(grades))
        _print_setup(sheet, "3:3")
        _protect(sheet)
        _meta_sheet(workbook, _identity(scheme, kind, rating, rater, number), key)
        workbook.active = 0
        workbook.properties.creator = "kaohe-excel"
        paths.append(save_workbook_deterministic(workbook, path))
    return paths
