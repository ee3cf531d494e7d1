"""复核 (appeals): the office's 复核登记表 read into an appeals frame, and applied to the
validated values and claims before scoring.

One row per appeal, on a unit's indicator (指标代码) or a unit's 加扣分 item (项目代码). 复核结论
维持 changes nothing; 调整 puts 复核值 in place of the unit's value of the indicator (whatever
its source: 自报, 评定, a lead department's 核定 value) or of its 数量 of the item (0 removes
it). Judging a row never raises: each problem is an 错误 at its cell and the row is not used.
"""

from __future__ import annotations

import math

import pandas as pd

from kaohe_excel.base.issues import IssueCode, error
from kaohe_excel.base.tables import clean_text

KEEP = "维持"
ADJUST = "调整"
CONCLUSIONS = (KEEP, ADJUST)

APPEAL_COLUMNS = ["unit_code", "indicator_code", "item_code", "request", "conclusion", "value", "text_value",
                  "note", "file", "sheet", "cell"]


def empty_appeals() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in APPEAL_COLUMNS})


def _applicable_specs(checker) -> dict[tuple[str, str], dict]:
    """(unit, indicator) -> the fields parsing needs, for every indicator that applies to the unit,
    whatever its 数据来源 (an appeal may concern a 评定 or a 核定 value as well as a 自报 one)."""
    active = checker.assignments[~checker.assignments["exempt"]]
    fields = ["name", "measure_unit", "method", "target", "tier_table"]
    columns = [active[c].tolist() for c in fields]
    return {(u, code): dict(zip(fields, values))
            for u, code, values in zip(active["unit_code"], active["indicator_code"], zip(*columns))}


def judge(result, checker) -> list[dict]:
    """The usable appeals of one 复核登记表 (read.FileResult); issues go to checker.add.

    checker is validate's _Validator: its unit list, catalogue, exempt pairs and its cell
    parser, so a 复核值 is read exactly as the same value in a template would be."""
    name = result.name
    specs = _applicable_specs(checker)
    records: list[dict] = []
    seen: dict[tuple[str, str, str], str] = {}
    for row in result.rows:
        unit_cell, ind_cell, item_cell = row["单位代码"], row["指标代码"], row["项目代码"]
        conclusion_cell, value_cell = row["复核结论"], row["复核值"]
        unit_code, code, item = clean_text(unit_cell.value), clean_text(ind_cell.value), clean_text(item_cell.value)
        at = {"file": name, "sheet": unit_cell.sheet, "unit": unit_code, "indicator": code or item}

        def bad(issue_code: IssueCode, text: str, cell) -> None:
            checker.add(error(issue_code, text, cell=cell.cell, **at))

        if unit_code not in checker.unit_names:
            bad(IssueCode.unknown_unit, f"复核登记表中的单位代码「{unit_code}」不在单位名单中，请从下拉列表选择"
                if unit_code else "复核登记表此行没有填写单位代码，请从下拉列表选择", unit_cell)
            continue
        if bool(code) == bool(item):
            bad(IssueCode.invalid_appeal, "每行复核登记只能针对一个指标或一个加扣分项目：请在「指标代码」和「项目代码」中填写且只填写一个"
                "（对同一单位的多个事项请分行登记）", ind_cell)
            continue
        if code:
            if code not in checker.indicator_codes:
                bad(IssueCode.unknown_indicator, f"复核登记表中的指标代码「{code}」不在考核方案中，请从下拉列表选择", ind_cell)
                continue
            spec = specs.get((unit_code, code))
            if spec is None:
                why = "本期不考核" if (unit_code, code) in checker.exempt_pairs else "不考核此指标（不在其考核类别的适用指标中）"
                bad(IssueCode.not_applicable_indicator, f"单位「{unit_code}」{why}，不能对指标「{code}」复核", ind_cell)
                continue
        elif item not in checker.catalogue:
            bad(IssueCode.unknown_adjustment, f"复核登记表中的项目代码「{item}」不在考核方案的加扣分目录中，请从下拉列表选择", item_cell)
            continue
        conclusion = clean_text(conclusion_cell.value)
        if conclusion not in CONCLUSIONS:
            shown = f"「{conclusion}」" if conclusion else "未填写"
            bad(IssueCode.invalid_appeal, f"复核结论{shown}，应为「维持」或「调整」（从下拉列表选择）", conclusion_cell)
            continue
        key = (unit_code, code, item)
        if key in seen:
            bad(IssueCode.duplicate_appeal, f"单位「{unit_code}」的{'指标' if code else '项目'}「{code or item}」已在 {seen[key]} "
                "登记过复核，同一事项只能登记一行，请合并后删除重复行", unit_cell)
            continue
        value, text = math.nan, None
        if conclusion == ADJUST:
            # the checks a unit's own value gets (number text, cell format, hidden row, plausibility,
            # counts), with the same wording, at the register's cell
            cell_at = {**at, "cell": value_cell.cell}
            if code:
                parsed: list[dict] = []
                full_spec = checker.expected_self.get(unit_code, {}).get(code) or checker.expected_assessed.get((unit_code, code)) or spec
                checker.value(unit_code, code, full_spec, value_cell, name, None, None, label="复核值", into=parsed)
                if parsed[0]["unscored"]:
                    continue
                value, text = parsed[0]["value"], parsed[0]["text_value"]
            else:
                catalogued = checker.catalogue[item]
                if value_cell.value is None or (isinstance(value_cell.value, str) and not clean_text(value_cell.value)):
                    checker.add(error(IssueCode.invalid_count, f"复核结论为调整，「{catalogued['name']}」的复核值未填写，"
                                      "请填写调整后的数量（填0表示取消此项）", **cell_at))
                    continue
                count = checker.count(value_cell.value, catalogued, "unit" if catalogued["kind"] == "bonus" else "office",
                                      cell_at, label="复核值", zero_ok=True)
                if count is None:
                    continue
                value = count
        seen[key] = unit_cell.cell
        request = row.get("申请事项")
        note = row.get("复核说明")
        records.append({"unit_code": unit_code, "indicator_code": code, "item_code": item,
                        "request": clean_text(request.value) if request else "", "conclusion": conclusion,
                        "value": value, "text_value": text, "note": clean_text(note.value) if note else "",
                        "file": name, "sheet": unit_cell.sheet, "cell": unit_cell.cell})
    return records


def adjusted(appeals: pd.DataFrame | None) -> pd.DataFrame:
    """The appeals that change something (调整)."""
    if appeals is None or not len(appeals):
        return empty_appeals()
    return appeals[appeals["conclusion"].eq(ADJUST)]


def apply(values: pd.DataFrame, claims: pd.DataFrame, appeals: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """values (one row per unit × indicator, after 核定 values were put in) and claims with
    every 调整 applied; 维持 rows change nothing. An indicator without a value row (its file was
    rejected) gets one: the office's decision is the value."""
    changes = adjusted(appeals)
    if not len(changes):
        return values, claims
    on_values = changes[changes["indicator_code"].ne("")]
    keys = ["unit_code", "indicator_code"]
    if len(on_values):
        new = on_values[keys + ["value", "text_value", "file", "sheet", "cell"]].assign(unscored=False)
        kept = values.merge(new[keys], on=keys, how="left", indicator=True)["_merge"].eq("left_only").to_numpy()
        values = pd.concat([values[kept], new.reindex(columns=values.columns)], ignore_index=True)
        values["unscored"] = values["unscored"].astype(bool)
    on_items = changes[changes["item_code"].ne("")]
    if len(on_items):
        keys = ["unit_code", "item_code"]
        kept = claims.merge(on_items[keys], on=keys, how="left", indicator=True)["_merge"].eq("left_only").to_numpy()
        granted = on_items[on_items["value"] > 0]
        new = pd.DataFrame({"unit_code": granted["unit_code"], "item_code": granted["item_code"],
                            "count": granted["value"].astype(float), "description": "复核调整：" + granted["note"].astype(str),
                            "evidence": "", "file": granted["file"], "sheet": granted["sheet"], "cell": granted["cell"],
                            "recorded_by": "office"}).reindex(columns=claims.columns)
        claims = pd.concat([claims[kept], new], ignore_index=True) if len(new) else claims[kept].reset_index(drop=True)
    return values, claims


def manifest_records(appeals: pd.DataFrame | None) -> list[dict]:
    """The appeals as the manifest lists them (plain JSON types)."""
    if appeals is None or not len(appeals):
        return []
    out = []
    for row in appeals.to_dict("records"):
        value = row["text_value"] if row["text_value"] is not None else (None if row["value"] != row["value"] else row["value"])
        out.append({"unit_code": row["unit_code"], "indicator_code": row["indicator_code"], "item_code": row["item_code"],
                    "conclusion": row["conclusion"], "value": value, "file": row["file"], "cell": f"{row['sheet']}!{row['cell']}"})
    return out


__all__ = ["judge", "apply", "adjusted", "empty_appeals", "manifest_records", "APPEAL_COLUMNS", "KEEP", "ADJUST"]
