"""The machine-readable csv tables (scores.csv, totals.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kaohe_excel.outputs.report_values import (
    _col,
    _indicator_table,
    _is_number,
    _method_display,
    _missing,
    _num_text,
    _round2,
    _sort_ranked,
    _text,
    _texts,
    _value_display,
)
from kaohe_excel.base.safety import csv_safe


SCORES_CSV_COLUMNS = ["考核周期", "单位代码", "单位名称", "考核类别", "指标代码", "指标名称", "实际值", "得分", "分值", "计分方法"]
# scores.csv rows encoded at a time
_CSV_SLICE = 50000
TOTALS_CSV_COLUMNS = ["考核周期", "单位代码", "单位名称", "考核类别", "指标得分", "加分", "扣分", "总分", "排名", "等次", "否决"]


def _by_distinct(values: np.ndarray, show) -> list[str]:
    """show(v) for every float in values, computed once per distinct bit pattern."""
    bits, inverse = np.unique(np.asarray(values, dtype=float).view(np.int64), return_inverse=True)
    shown = [show(v) for v in bits.view(float).tolist()]
    return [shown[i] for i in inverse.tolist()]


def _fmt2(series: pd.Series) -> pd.Series:
    numbers = _round2(pd.to_numeric(series, errors="coerce")).to_numpy(dtype=float)
    return pd.Series(_by_distinct(numbers, lambda v: f"{v:.2f}" if v == v else ""), index=series.index, dtype=object)


def _csv_cells(series: pd.Series, numbers_plain: bool) -> list[str]:
    """csv_safe(_text(v)) of every value; with numbers_plain, numbers as _num_text (never quoted)."""
    if series.dtype.kind == "f":
        return _texts(series) if numbers_plain else [csv_safe(t) for t in _texts(series)]
    texts = _texts(series)
    safe: dict[str, str] = {}
    out = [safe[t] if t in safe else safe.setdefault(t, csv_safe(t)) for t in texts]
    if numbers_plain and (series.dtype == object or series.dtype.kind in "iu"):
        for i, v in enumerate(series.tolist()):
            if _is_number(v):
                out[i] = _num_text(v)
    return out


def _fmt_plain(series: pd.Series) -> pd.Series:
    return pd.Series(_csv_cells(series, True), index=series.index, dtype=object)


def _csv_text(series: pd.Series) -> pd.Series:
    return pd.Series(_csv_cells(series, False), index=series.index, dtype=object)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _score_rows(period: str, rows: pd.DataFrame) -> pd.DataFrame:
    """scores.csv's rows of these scored rows (each row's own texts)."""
    value = _value_display(rows)
    return pd.DataFrame({
        "考核周期": csv_safe(_text(period)),
        "单位代码": _csv_text(rows["unit_code"]),
        "单位名称": _csv_text(_col(rows, "unit_name", "")),
        "考核类别": _csv_text(_col(rows, "group", "")),
        "指标代码": _csv_text(rows["indicator_code"]),
        "指标名称": _csv_text(_col(rows, "name", "")),
        "实际值": _fmt_plain(value),
        "得分": _fmt2(rows["score"]),
        "分值": _fmt_plain(_col(rows, "points")),
        "计分方法": _csv_text(_method_display(rows)),
    }, columns=SCORES_CSV_COLUMNS)


def write_csvs(folder: str | Path, period: str, scored: pd.DataFrame, ranked: pd.DataFrame) -> list[Path]:
    """scores.csv (unit × indicator) and totals.csv (unit), UTF-8 with BOM, Chinese headers."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    units = _sort_ranked(ranked)
    unit_order = {u: i for i, u in enumerate(units["unit_code"])}
    ind_order = {c: i for i, c in enumerate(_indicator_table(scored)["indicator_code"])} if len(scored) else {}
    keys = pd.DataFrame({"_u": scored["unit_code"].map(unit_order).to_numpy(),
                         "_i": scored["indicator_code"].map(ind_order).to_numpy()})
    positions = keys.sort_values(["_u", "_i"], kind="stable").index.to_numpy()
    paths = [folder / "scores.csv", folder / "totals.csv"]
    # a slice of rows at a time: at 10,000 units the texts of all 553,000 rows at once cost ~0.5 GB
    with open(paths[0], "w", encoding="utf-8-sig", newline="") as handle:
        for start in range(0, max(len(positions), 1), _CSV_SLICE):
            _score_rows(period, scored.iloc[positions[start:start + _CSV_SLICE]]).to_csv(
                handle, index=False, header=start == 0, lineterminator="\r\n")
    rank = pd.to_numeric(units["rank"], errors="coerce")
    totals = pd.DataFrame({
        "考核周期": csv_safe(_text(period)),
        "单位代码": _csv_text(units["unit_code"]),
        "单位名称": _csv_text(units["unit_name"]),
        "考核类别": _csv_text(units["group"]),
        "指标得分": _fmt2(units["indicator_total"]),
        "加分": _fmt2(units["bonus"]),
        "扣分": _fmt2(units["deduction"]),
        "总分": _fmt2(units["total"]),
        "排名": pd.Series([str(int(v)) if not _missing(v) else "" for v in rank], index=units.index, dtype=object),
        "等次": _csv_text(units["grade"]),
        "否决": pd.Series(np.where(_col(units, "vetoed", False).fillna(False).astype(bool), "是", "否"), index=units.index, dtype=object),
    }, columns=TOTALS_CSV_COLUMNS)
    _write_csv(totals, paths[1])
    return paths
