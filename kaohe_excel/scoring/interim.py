"""平时考核 into the year: a 数据来源=平时 indicator's value is the mean of the unit's printed
总分 in archived earlier periods of the same year (its 来源周期, or every archived 季度 period,
else every 月度 one).

Pure computation only: `interim_values` (archived totals in, value rows, audit detail and issues
out) and `attach` (the values added to a Validated before scoring). Reading the source periods
from the outputs root is the jobs' (interim_sources.load, called by pipeline), so `check`, `run`
and `verify` see the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kaohe_excel.base.issues import Issue, IssueCode, error, warning

INTERIM = "interim"
DETAIL_COLUMN = "interim_detail"  # in scored rows: [[period, printed total or None], ...]
ARCHIVE_LABEL = "平时考核（归档）"
_KIND_ZH = {"quarter": "季度", "month": "月度"}


# --------------------------------------------------------------------------- pure computation


def interim_values(rows: pd.DataFrame, totals: pd.DataFrame, sealed: dict[str, bool]) -> tuple[pd.DataFrame, pd.DataFrame, list[Issue]]:
    """rows: unit_code, indicator_code, periods (list of source period names) of the 平时 cells
    that are assessed (not 不考核); totals: period, unit_code, total (the printed 总分).

    Returns (values with validate.VALUE_COLUMNS, detail with unit_code, indicator_code, detail,
    note, and the issues): value = mean of the totals found, half-up to 2 decimals.
    """
    from kaohe_excel.scoring.score import round_half_up
    from kaohe_excel.inputs.validate import VALUE_COLUMNS

    issues: list[Issue] = []
    for period in sorted({p for ps in rows["periods"] for p in ps}):
        if not sealed.get(period, False):
            issues.append(warning(IssueCode.interim_unsealed, (
                f"平时考核的来源周期 {period} 尚未封存：本期按其当前归档的总分计算。该期结果确定后请封存"
                f"（kaohe seal {period}），封存后如有改动，年度结果核验时会指出"), sheet=period))
    long = rows[["unit_code", "indicator_code", "periods"]].explode("periods").rename(columns={"periods": "period"})
    long = long.dropna(subset=["period"]).reset_index(drop=True)
    long["_seq"] = np.arange(len(long))
    printed = totals.assign(total=round_half_up(pd.to_numeric(totals["total"], errors="coerce"), 2)).dropna(subset=["total"])
    long = long.merge(printed.drop_duplicates(["period", "unit_code"])[["period", "unit_code", "total"]],
                      on=["period", "unit_code"], how="left").sort_values("_seq", kind="stable")
    found = long["total"].notna()
    long["shown"] = long["period"].astype(str) + " " + long["total"].map(lambda v: f"{v:.2f}" if v == v else "未参加考核")
    keys = ["unit_code", "indicator_code"]
    cents = (long["total"] * 100).round().where(found)
    grouped = long.assign(_c=cents, _n=found.astype(int)).groupby(keys, sort=False)
    summary = grouped.agg(cents=("_c", "sum"), n=("_n", "sum"), shown=("shown", "、".join)).reset_index()
    summary["value"] = round_half_up(summary["cents"] / summary["n"].where(summary["n"] > 0) / 100, 2)
    summary["note"] = ("平时考核：" + summary["shown"] + "，平均 "
                       + summary["value"].map(lambda v: f"{v:.2f}" if v == v else "—") + "；")
    pairs = long[keys + ["period", "total"]].groupby(keys, sort=False)
    detail_lists = pairs.apply(lambda g: [[p, None if t != t else float(t)] for p, t in zip(g["period"], g["total"])],
                               include_groups=False).rename("detail").reset_index()
    summary = summary.merge(detail_lists, on=keys, how="left")
    absent = long[~found].groupby(keys, sort=False)["period"].agg("、".join).rename("absent").reset_index()
    summary = summary.merge(absent, on=keys, how="left")
    for row in summary[summary["absent"].notna()].itertuples():
        if row.n == 0:
            issues.append(error(IssueCode.interim_missing, (
                f"单位「{row.unit_code}」在来源周期 {row.absent} 的归档中都没有总分，平时考核指标「{row.indicator_code}」无法取值。"
                "请核对该单位各期的单位代码是否一致，或在「目标分解」中将其标为不考核"),
                sheet=ARCHIVE_LABEL, unit=row.unit_code, indicator=row.indicator_code))
        else:
            issues.append(warning(IssueCode.interim_partial, (
                f"单位「{row.unit_code}」未参加 {row.absent} 的考核，平时考核指标「{row.indicator_code}」"
                f"按其余 {row.n} 期的总分平均（{row.shown}）"),
                sheet=ARCHIVE_LABEL, unit=row.unit_code, indicator=row.indicator_code))
    scored_rows = summary[summary["n"] > 0]
    values = pd.DataFrame({
        "unit_code": scored_rows["unit_code"].to_numpy(dtype=object),
        "indicator_code": scored_rows["indicator_code"].to_numpy(dtype=object),
        "value": scored_rows["value"].to_numpy(dtype=float),
        "text_value": None, "evidence": "", "note": "",
        "file": ARCHIVE_LABEL, "sheet": "", "cell": "", "unscored": False,
    }, columns=VALUE_COLUMNS)
    return values, summary[keys + ["detail", "note"]].reset_index(drop=True), issues


# --------------------------------------------------------------------------- attaching to a period


@dataclass
class InterimValues:
    values: pd.DataFrame
    detail: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)
    # what the manifest records: source period -> its manifest's and totals' sha256, code -> periods used
    sources: dict[str, dict] = field(default_factory=dict)
    used: dict[str, list[str]] = field(default_factory=dict)


def _interim_rows(scheme) -> pd.DataFrame:
    indicators = scheme.indicators[scheme.indicators["source"] == INTERIM]
    return indicators


def has_interim(scheme) -> bool:
    return bool((scheme.indicators["source"] == INTERIM).any())


def compute(scheme, totals: pd.DataFrame, sealed: dict[str, bool], used: dict[str, list[str]],
            sources: dict[str, dict]) -> InterimValues:
    """Every 平时 value of the scheme's assessed cells from the source periods' totals (period,
    unit_code, total), as read by the job; `used`: indicator code -> the periods it averages."""
    cells = scheme.assignments()
    cells = cells.loc[(cells["source"] == INTERIM) & ~cells["exempt"], ["unit_code", "indicator_code"]].copy()
    cells["periods"] = cells["indicator_code"].map(used)
    values, detail, issues = interim_values(cells, totals, sealed)
    return InterimValues(values, detail, issues, sources, used)


def attach(validated, result: InterimValues | None):
    """The Validated with the 平时 values and issues added (unchanged without 平时: result None)."""
    if result is None:
        return validated
    values = pd.concat([validated.values, result.values], ignore_index=True) if len(validated.values) else result.values
    validated.values = values
    validated.issues = list(validated.issues) + result.issues
    validated.interim = result
    return validated


def annotate(scored: pd.DataFrame, interim: InterimValues | None) -> pd.DataFrame:
    """Put each 平时 cell's periods and totals before its score explanation, and the per-period
    list in DETAIL_COLUMN for the feedback block."""
    if interim is None or not len(interim.detail):
        return scored
    keys = ["unit_code", "indicator_code"]
    merged = scored[keys].merge(interim.detail, on=keys, how="left")
    note = merged["note"].fillna("").to_numpy(dtype=object)
    out = scored.copy()
    out["explanation"] = note + out["explanation"].astype(object).fillna("").to_numpy(dtype=object)
    out[DETAIL_COLUMN] = merged["detail"].to_numpy(dtype=object)
    return out


def manifest_entry(interim: InterimValues) -> dict:
    return {"periods": interim.sources, "indicators": interim.used}
