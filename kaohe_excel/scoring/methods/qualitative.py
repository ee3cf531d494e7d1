"""定性 (grades): the grade maps through its 档次表 to P·得分比例; an unknown grade scores 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from kaohe_excel.scoring.explain import STR, STR_DTYPE, Piece, Text, f, format_numbers, fs, missing_as_none, pick
from kaohe_excel.scoring.methods.registry import Method, NOT_ALLOWED, OPTIONAL, REQUIRED, register
from kaohe_excel.scoring.methods._inverse import Ctx, EPS, blank
from kaohe_excel.scoring.methods.mirror import DEFAULT_BASE_SHARE, num


def _grade_text(rows: pd.DataFrame) -> np.ndarray:
    """The grade as typed (stripped); a grade row given as a number shows that number."""
    if "text_value" in rows:
        codes, typed = pd.factorize(rows["text_value"])  # strip each distinct text once
        stripped = pd.Series(np.asarray(typed, dtype=object), dtype=object).astype(STR_DTYPE).str.strip()
        text = np.append(stripped.to_numpy(dtype=object), "")[codes]  # missing (code −1) → ""
    else:
        text = np.array([""], dtype=object)[np.zeros(len(rows), dtype=np.int64)]
    value = num(rows, "value")
    from_value = (text == "") & value.notna().to_numpy()
    if from_value.any():
        text[from_value] = format_numbers(value[from_value], value.index[from_value], 4).to_numpy()
    return text


def qualitative(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> tuple[np.ndarray, Text]:
    """定性: the grade maps through its 档次表 to P·得分比例; an unknown grade scores 0."""
    P = num(rows, "points")
    levels = tier_tables.loc[tier_tables["level"].fillna("").astype(str).str.strip() != "",
                             ["tier_table", "level", "share"]].copy()
    levels["level"] = levels["level"].astype(str).str.strip()
    levels = levels.astype({"tier_table": object, "level": object, "share": float})
    levels = levels.drop_duplicates(["tier_table", "level"])
    lookup = {(missing_as_none(t), level): share for t, level, share in levels.itertuples(index=False)}
    # look up each distinct (table, grade) pair once
    table_codes, tables = pd.factorize(rows["tier_table"], use_na_sentinel=False)
    grade_codes, grades = pd.factorize(_grade_text(rows))
    pair_codes, pairs = pd.factorize(table_codes.astype(np.int64) * len(grades) + grade_codes)
    pair_share = np.array([lookup.get((missing_as_none(tables[p // len(grades)]), grades[p % len(grades)]), np.nan)
                           for p in pairs.tolist()], dtype=float)
    share = pair_share[pair_codes] if len(pairs) else np.full(len(rows), np.nan)
    known = ~np.isnan(share)
    score = P * np.nan_to_num(share, nan=0.0)
    table = Text.of(len(rows), Piece(table_codes, pa.array(
        ["" if missing_as_none(t) is None else str(t) for t in tables], STR)))
    grade = Text.of(len(rows), Piece(grade_codes, pa.array([str(g) for g in grades], STR)))
    fshare = f(share)
    text = "定性评价：等级「" + grade + "」，" + pick([known], [
        "档次表「" + table + "」得分比例" + fshare + "，得分 " + f(P) + "×" + fshare + " = " + fs(score)],
        default="不在档次表「" + table + "」中，得0分")
    return score, text


def inverse(rows: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    out = blank(rows)
    P, b = num(rows, "points"), num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)
    levels = ctx.tier_tables.loc[ctx.tier_tables["level"].fillna("").astype(str).str.strip() != "",
                                 ["tier_table", "level", "share"]].copy()
    levels = levels.astype({"tier_table": object, "share": float}).assign(
        level=levels["level"].astype(str).str.strip().astype(object), _pos=np.arange(len(levels)))
    top = levels.sort_values(["share", "_pos"], ascending=[False, True]).drop_duplicates("tier_table")
    table = rows["tier_table"].astype(object)
    out["full_score"] = P * table.map(top.set_index("tier_table")["share"]).astype(float)
    out["grade_for_full"] = table.map(top.set_index("tier_table")["level"]).astype(object).fillna("")
    out["base_score"] = P * b
    cand = pd.DataFrame({"tier_table": table.to_numpy(), "_b": b.to_numpy(), "_i": np.arange(len(rows))}).merge(
        levels, on="tier_table", how="inner")
    base = (cand[cand["share"] >= cand["_b"] - EPS].sort_values(["_i", "share", "_pos"])
            .drop_duplicates("_i").set_index("_i")["level"].reindex(np.arange(len(rows))))
    out["grade_for_base"] = base.astype(object).fillna("").to_numpy()
    return out


register(Method(
    name="定性", description="按评定等级在档次表中的得分比例×分值",
    score=qualitative, inverse=inverse,
    parameters={"目标值": OPTIONAL, "基本值": OPTIONAL, "满分值": OPTIONAL, "不允许值": NOT_ALLOWED,
                "上限系数": NOT_ALLOWED, "每项分值": NOT_ALLOWED, "档次表": REQUIRED, "基本分比例": OPTIONAL},
    group_relative=False, progress="skipped", value="grade", tier_rows="等级",
))
