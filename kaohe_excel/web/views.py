"""What the 结果 and 历史 views show, as plain data: shared by the web page and the offline
dashboard (结果看板.html), so both always show the same thing. No web framework here.

Every text from the scheme or the inputs reaches a page only through Jinja autoescaping or,
for charts, as JSON data that ECharts draws on a canvas (its tooltips in rich-text mode):
a hostile unit name is shown, never run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from kaohe_excel.inputs.number_text import fixed

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
GRADE_COLOURS = ["#2e7d32", "#1565c0", "#ef8f00", "#c62828", "#6d4c41", "#546e7a"]


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = num
    return env


def missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:
        return False


def num(value: object, digits: int = 2) -> str:
    """A score as printed in the outputs (2 decimals); blank for a missing one."""
    if missing(value):
        return ""
    try:
        return fixed(float(value), digits)
    except (TypeError, ValueError):
        return str(value)


def text(value: object) -> str:
    return "" if missing(value) else str(value)


def integer(value: object) -> str:
    if missing(value):
        return ""
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return str(value)


def grade_colour(grade: str, grades: list[str]) -> str:
    return GRADE_COLOURS[grades.index(grade) % len(GRADE_COLOURS)] if grade in grades else "#757575"


def _group_order(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["group"].astype(str)))


def _flags(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "；".join(str(v) for v in value)
    return text(value)


def ranking_groups(totals: pd.DataFrame, grades: list[str]) -> list[dict[str, Any]]:
    """Per 考核类别, in the order the scheme lists them: the ranked rows and a bar chart."""
    groups = []
    for group in _group_order(totals):
        part = totals[totals["group"].astype(str) == group]
        sort_keys = [c for c in ("order", "rank", "unit_code") if c in part.columns]
        part = part.sort_values(sort_keys, kind="stable")
        rows = [{
            "rank": integer(r.get("rank")), "unit_code": text(r.get("unit_code")), "unit_name": text(r.get("unit_name")),
            "indicator_total": num(r.get("indicator_total")), "bonus": num(r.get("bonus")),
            "deduction": num(r.get("deduction")), "total": num(r.get("total")), "grade": text(r.get("grade")),
            "grade_note": text(r.get("grade_note")), "flags": _flags(r.get("flags")),
            "vetoed": bool(r.get("vetoed")) if not missing(r.get("vetoed")) else False,
            "veto_items": text(r.get("veto_items")), "colour": grade_colour(text(r.get("grade")), grades),
        } for r in part.to_dict("records")]
        groups.append({"group": group, "rows": rows, "chart": _bar_chart(group, rows)})
    return groups


def _bar_chart(group: str, rows: list[dict]) -> dict:
    names = [r["unit_name"] or r["unit_code"] for r in rows]
    return {
        "animation": False,
        "title": {"text": f"{group} 总分", "left": "center", "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis", "renderMode": "richText", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 50, "right": 20, "top": 40, "bottom": 10, "containLabel": True},
        "xAxis": {"type": "category", "data": names,
                  "axisLabel": {"interval": 0, "rotate": 35 if len(names) > 6 else 0, "fontSize": 11}},
        "yAxis": {"type": "value", "name": "总分"},
        "series": [{"type": "bar", "name": "总分", "barMaxWidth": 36,
                    "label": {"show": len(rows) <= 30, "position": "top", "fontSize": 10},
                    "data": [{"value": r["total"] or None,
                              "itemStyle": {"color": r["colour"]}} for r in rows]}],
    }


LINE_CHART_UNITS = 30  # beyond this a line per unit is unreadable: the group's best, mean and worst instead


def history_groups(history: pd.DataFrame) -> list[dict[str, Any]]:
    """Per 考核类别: each unit's 总分 and 名次 across the periods, and a line chart."""
    if history is None or not len(history):
        return []
    periods = sorted(history["period"].astype(str).unique())
    frame = history.assign(period=history["period"].astype(str), unit_code=history["unit_code"].astype(str))
    groups = []
    for group in _group_order(frame):
        part = frame[frame["group"].astype(str) == group].sort_values("period", kind="stable")
        last = part.drop_duplicates(["unit_code", "period"], keep="last").set_index(["unit_code", "period"])
        names = part.groupby("unit_code", sort=True)["unit_name"].last()
        totals = last["total"].unstack("period").reindex(index=names.index, columns=periods)
        ranks = last["rank"].unstack("period").reindex(index=names.index, columns=periods)
        grades = last["grade"].unstack("period").reindex(index=names.index, columns=periods)
        units = []
        for code, t_row, r_row, g_row in zip(names.index, totals.to_numpy(), ranks.to_numpy(), grades.to_numpy()):
            cells = [None if missing(t) else {"total": num(t), "rank": integer(r), "grade": text(g)}
                     for t, r, g in zip(t_row, r_row, g_row)]
            units.append({"unit_code": text(code), "unit_name": text(names[code]), "cells": cells})
        sealed = {str(p): bool(v) for p, v in zip(part["period"], part["sealed"])}
        groups.append({"group": group, "periods": periods, "units": units, "sealed": sealed,
                       "chart": _line_chart(group, periods, units, totals)})
    return groups


def _line_chart(group: str, periods: list[str], units: list[dict], totals: pd.DataFrame) -> dict:
    if len(units) <= LINE_CHART_UNITS:
        series = [{"type": "line", "name": u["unit_name"] or u["unit_code"], "connectNulls": False, "symbolSize": 7,
                   "data": [float(c["total"]) if c and c["total"] else None for c in u["cells"]]} for u in units]
    else:
        numbers = totals.apply(pd.to_numeric, errors="coerce")
        series = [{"type": "line", "name": label, "symbolSize": 7,
                   "data": [None if missing(v) else round(float(v), 2) for v in values]}
                  for label, values in (("本类别最高", numbers.max()), ("本类别平均", numbers.mean()),
                                        ("本类别最低", numbers.min()))]
    return {
        "animation": False,
        "title": {"text": f"{group} 各期总分", "left": "center", "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis", "renderMode": "richText"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 50, "right": 30, "top": 40, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": periods, "boundaryGap": False},
        "yAxis": {"type": "value", "name": "总分", "scale": True},
        "series": series,
    }


def table_rows(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and cells as text for a generic table (numbers with 2 decimals, blanks for missing)."""
    headers = [str(c) for c in frame.columns]
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for value in record:
            if isinstance(value, bool):
                cells.append("是" if value else "否")
            elif isinstance(value, float):
                cells.append(num(value))
            else:
                cells.append(text(value))
        rows.append(cells)
    return headers, rows
