"""Where the item scores stop adding up: the sentence that shows how 指标得分 came from them.

With 总分折算 = 百分制 a unit's indicator scores sum to, say, 62.15 of its 65 points available while
its 指标得分 is 95.62; a person checking with a calculator needs "指标得分 = 62.15 ÷ 65 × 100 =
95.62（百分制折算）". With 权重 the categories are weighted; the sentence lists each category's
score and points. One sentence per unit (never per cell), written in the summary's 指标得分 sheet,
in the unit's feedback and under its 差距分析.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kaohe_excel.inputs.number_text import positional
from kaohe_excel.scoring.score import round_half_up

NOTE_COLUMN = "total_note"
GAP_NOTE_COLUMN = "total_gap_note"


_num = positional


def indicator_total_notes(scored: pd.DataFrame, ranked: pd.DataFrame, meta: Any) -> pd.DataFrame:
    """unit_code, total_note, total_gap_note: '' where the indicator scores add up to 指标得分."""
    units = ranked[["unit_code", "indicator_total", "points_available"]].drop_duplicates("unit_code")
    codes = units["unit_code"].astype(object)
    out = pd.DataFrame({"unit_code": codes.to_numpy(), NOTE_COLUMN: "", GAP_NOTE_COLUMN: ""})
    if not len(units) or not len(scored):
        return out
    score = pd.to_numeric(scored["score"], errors="coerce").fillna(0.0)
    sums = score.groupby(scored["unit_code"].astype(object).to_numpy()).sum()
    item_sum = round_half_up(sums.reindex(codes).fillna(0.0).to_numpy(dtype=float))
    total = pd.to_numeric(units["indicator_total"], errors="coerce").to_numpy(dtype=float)
    points = pd.to_numeric(units["points_available"], errors="coerce").to_numpy(dtype=float)
    differs = np.abs(item_sum - total) > 0.004
    percent = getattr(meta, "total_mode", "raw") == "percent"
    notes, gap_notes = [], []
    category_text = _category_texts(scored) if differs.any() and not percent else {}
    for code, s, p, t, d in zip(codes.tolist(), item_sum.tolist(), points.tolist(), total.tolist(), differs.tolist()):
        if percent and p > 0 and (d or abs(p - 100) > 1e-9):
            notes.append(f"指标得分 = {s:.2f} ÷ {_num(p)} × 100 = {t:.2f}（百分制折算）")
            gap_notes.append(f"总分按百分制折算（指标得分 = 各指标得分之和 ÷ {_num(p)} × 100），"
                             f"指标得分每差1分，总分差{100 / p:.2f}分；「可增加总分」已按此折算，"
                             "「距满分差（分）」为指标本身的分数。")
        elif d:
            notes.append(f"各指标得分之和{s:.2f}分，按「权重」折算后指标得分为{t:.2f}分"
                         + (f"（{category_text[code]}）" if code in category_text else ""))
            gap_notes.append("指标得分按一级指标权重折算：「可增加总分」为折算后总分可增加的分数，"
                             "「距满分差（分）」为指标本身的分数。")
        else:
            notes.append("")
            gap_notes.append("")
    out[NOTE_COLUMN] = notes
    out[GAP_NOTE_COLUMN] = gap_notes
    return out


def _category_texts(scored: pd.DataFrame) -> dict:
    """unit_code → '经济发展 25.50/30分，社会发展 40.00/50分' (the weighted categories' own figures)."""
    if "category" not in scored.columns:
        return {}
    frame = pd.DataFrame({
        "unit_code": scored["unit_code"].astype(object).to_numpy(),
        "category": scored["category"].astype(object).to_numpy(),
        "score": pd.to_numeric(scored["score"], errors="coerce").fillna(0.0).to_numpy(),
        "points": pd.to_numeric(scored.get("points_available", np.nan), errors="coerce").fillna(0.0).to_numpy(),
    })
    by = frame.groupby(["unit_code", "category"], sort=False)[["score", "points"]].sum().reset_index()
    by = by[by["points"] > 0]
    texts: dict = {}
    for code, rows in by.groupby("unit_code", sort=False):
        texts[code] = "，".join(f"{c} {round_half_up(s, 2):.2f}/{_num(p)}分"
                               for c, s, p in zip(rows["category"], rows["score"], rows["points"]))
    return texts
