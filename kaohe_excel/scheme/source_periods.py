"""The 来源周期 column of a 数据来源=平时 indicator: spelled and checked with the scheme (scheme.py
calls check_source_periods), read by the 平时 computation (interim.py) and its loader."""

from __future__ import annotations

import pandas as pd

from kaohe_excel.base.errors import KaoheError

PERIOD_SEPARATORS = ("、", ",", "，")


def split_periods(text: str) -> list[str]:
    for sep in PERIOD_SEPARATORS[1:]:
        text = text.replace(sep, PERIOD_SEPARATORS[0])
    return [part.strip() for part in text.split(PERIOD_SEPARATORS[0]) if part.strip()]


def check_source_periods(frame: pd.DataFrame, meta, problems) -> None:
    """Scheme check (called by scheme_rows._parse_indicators): 来源周期 spelled as period ids of the
    scheme's year, never the period itself; 平时 only on a 年度 scheme. Leaves them 、-joined."""
    from kaohe_excel.scoring.progress import parse_period
    from kaohe_excel.base.tables import clean_text

    raw = frame["source_periods"].map(clean_text) if "source_periods" in frame.columns else pd.Series("", index=frame.index)
    lists = []
    own = None
    if meta is not None:
        try:
            own = parse_period(meta.period)
        except KaoheError:
            own = None
    for row, text in zip(frame.itertuples(), raw):
        where = f"指标「{row.indicator_code or row.name}」"
        periods = split_periods(text)
        lists.append(periods)
        if row.source != "平时":
            if periods:
                problems.add("指标", row.xlsx_row, f"{where}的数据来源不是平时，不使用「来源周期」：请删去该格内容，或把数据来源改为平时")
            continue
        if meta is not None and meta.period_type != "年度":
            problems.add("指标", row.xlsx_row, (
                f"{where}的数据来源为平时（取往期总分的平均），只能用于年度考核方案，本方案周期类型为{meta.period_type}："
                "请在年度方案中使用，或改为自报、评定"))
            continue
        seen = set()
        for period in periods:
            try:
                year, kind, _ = parse_period(period)
            except KaoheError:
                problems.add("指标", row.xlsx_row, (
                    f"{where}的「来源周期」中「{period}」不是考核周期：季度写作 2024Q1，月度写作 2024-01，"
                    "多个周期用顿号分隔（如 2024Q1、2024Q2、2024Q3、2024Q4）"))
                continue
            if period in seen:
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」中「{period}」重复")
            seen.add(period)
            if kind == "year":
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」中「{period}」是年度周期：平时考核取本年的季度或月度考核结果")
            elif own is not None and year != own[0]:
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」中「{period}」不在本考核年度 {own[0]} 年内")
            if meta is not None and period == meta.period:
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」不能包含本期 {period}")
    # kept as text (、-joined): a list column would ride along into every unit × indicator frame
    frame["source_periods"] = pd.Series(["、".join(ps) for ps in lists], index=frame.index, dtype=object)
