"""Indicator scores, adjustment (加扣分) amounts and unit totals.

Pure functions: DataFrames in, DataFrames out, no I/O. Every method is applied to all
rows that use it at once (boolean masks, groupby), never unit by unit. 反向 (direction
"lower") is handled by mirroring through `attainment_ratio` and `signed_gap`, so each
method is written once. docs/methods.md lists the methods and their formulas.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

DEFAULT_BASE_SHARE = 0.6
DEFAULT_CAP = 1.0

Method = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]


# --------------------------------------------------------------------------- rounding


def round_half_up(x: Any, digits: int = 2) -> Any:
    """四舍五入 of the exact decimal value: 0.975 -> 0.98, -0.975 -> -0.98.

    Binary noise is removed first (round the scaled value to 6 places), so a value a
    calculator shows as ...5 always rounds away from zero. Accepts a scalar, an array
    or a Series (index kept); NaN stays NaN.
    """
    factor = 10.0**digits
    if isinstance(x, pd.Series):
        return pd.Series(round_half_up(x.to_numpy(dtype=float, na_value=np.nan), digits), index=x.index, name=x.name)
    arr = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.round(arr * factor, 6)
        out = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / factor + 0.0  # + 0.0 turns -0.0 into 0.0
    if np.ndim(out) == 0:
        return float(out)
    return out


# --------------------------------------------------------------------------- mirroring


def _is_lower(direction: Any) -> np.ndarray:
    # compared in the column's own dtype: converting a million strings to objects first costs more than scoring
    series = direction if isinstance(direction, pd.Series) else pd.Series(direction)
    return series.eq("lower").fillna(False).to_numpy(dtype=bool)


def attainment_ratio(x: Any, t: Any, direction: Any) -> np.ndarray:
    """x / t for 正向, t / x for 反向; 1 when x == t.

    A non-positive value is the worst case for 正向 (ratio 0) and the best case for 反向
    (ratio inf, later capped); a non-positive reference makes any better value inf and
    any worse value 0, so the ratio never decreases as the value improves.
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    lower = _is_lower(direction) if np.ndim(direction) else np.full(np.shape(x), direction == "lower")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        higher_ratio = np.select(
            [x == t, t <= 0, x <= 0],
            [1.0, np.where(x > t, np.inf, 0.0), 0.0],
            default=x / t,
        )
        lower_ratio = np.select(
            [x == t, t <= 0, x <= 0],
            [1.0, np.where(x < t, np.inf, 0.0), np.inf],
            default=t / x,
        )
    out = np.where(lower, lower_ratio, higher_ratio)
    return np.where(np.isnan(x) | np.isnan(t), np.nan, out)


def signed_gap(x: Any, t: Any, direction: Any) -> np.ndarray:
    """How far x is better than t: x − t for 正向, t − x for 反向."""
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    lower = _is_lower(direction) if np.ndim(direction) else np.full(np.shape(x), direction == "lower")
    return np.where(lower, t - x, x - t)


def _sign(rows: pd.DataFrame) -> np.ndarray:
    """+1 for 正向, −1 for 反向: `value * sign` is "bigger is better" for every row."""
    return np.where(_is_lower(rows["direction"]), -1.0, 1.0)


# --------------------------------------------------------------------------- formatting


def _plain(v: float, decimals: int) -> str:
    """An already rounded float as a person writes it (4 decimals: trailing zeros trimmed); NaN → —."""
    if v != v:
        return "—"
    if v in (math.inf, -math.inf):
        return "∞" if v > 0 else "-∞"
    text = f"{v:.{decimals}f}"
    if decimals == 4:  # person-style: trailing zeros trimmed
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _format(values: Any, index: pd.Index, decimals: int) -> pd.Series:
    # round all at once, then format each distinct number once: parameters repeat on every
    # row of an indicator, so a million rows hold only a few thousand distinct numbers
    rounded = round_half_up(np.asarray(values, dtype=float).reshape(-1), decimals)
    codes, distinct = pd.factorize(rounded, use_na_sentinel=False)
    texts = np.array([_plain(v, decimals) for v in distinct.tolist()], dtype=object)
    return pd.Series(texts[codes], index=index, dtype=object)


def _f(values: Any, index: pd.Index) -> pd.Series:
    return _format(values, index, 4)


def _fs(values: Any, index: pd.Index) -> pd.Series:
    return _format(values, index, 2)


def _pick(index: pd.Index, conditions: list[Any], choices: list[pd.Series], default: Any = "") -> pd.Series:
    """Vectorized choice between whole sentences (np.select over string Series)."""
    conds = [np.asarray(c, dtype=bool) for c in conditions]
    arrays = [np.asarray(c.reindex(index) if isinstance(c, pd.Series) else c, dtype=object) for c in choices]
    return pd.Series(np.select(conds, arrays, default=default), index=index, dtype=object)


def _dir_note(rows: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(_is_lower(rows["direction"]), "（反向）", ""), index=rows.index, dtype=object)


# --------------------------------------------------------------------------- parameters


def _num(rows: pd.DataFrame, column: str) -> pd.Series:
    if column not in rows.columns:
        return pd.Series(np.nan, index=rows.index, dtype=float)
    return pd.to_numeric(rows[column], errors="coerce").astype(float)


def _base_share(rows: pd.DataFrame) -> pd.Series:
    return _num(rows, "base_share").fillna(DEFAULT_BASE_SHARE)


# A unit's peers for group-relative methods: same 考核类别, same indicator.
PEER_KEYS = ["group", "indicator_code"]


def _result(score: Any, explanation: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"score_raw": np.asarray(score, dtype=float), "explanation": explanation.astype(object)},
                        index=explanation.index)


# --------------------------------------------------------------------------- methods


def completion(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """完成率: P · min(ratio, cap), ratio = x/目标值 (反向 目标值/x)."""
    idx = rows.index
    P, x, t = _num(rows, "points"), _num(rows, "value"), _num(rows, "target")
    cap = _num(rows, "cap").fillna(DEFAULT_CAP)
    r = attainment_ratio(x, t, rows["direction"])
    used = np.clip(r, 0, cap)
    score = P * used
    ratio_text = pd.Series(np.where(_is_lower(rows["direction"]), "目标值/完成值", "完成值/目标值"), index=idx)
    text = ("完成率法" + _dir_note(rows) + "：完成值" + _f(x, idx) + "，目标值" + _f(t, idx) + "，完成比例（"
            + ratio_text + "）" + _f(r, idx) + "，上限系数" + _f(cap, idx) + "，得分 " + _f(P, idx) + "×"
            + _f(used, idx) + " = " + _fs(score, idx))
    return _result(score, text)


def base_full(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """基本满分: 满分值 reached → P; between → P·(b+(1−b)·progress); below 基本值 → P·b·ratio."""
    idx = rows.index
    d = rows["direction"]
    P, x, base = _num(rows, "points"), _num(rows, "value"), _num(rows, "base")
    full = _num(rows, "full").fillna(_num(rows, "target"))  # 满分值 left empty: the target is the full mark
    b = _base_share(rows)
    at_full = signed_gap(x, full, d) >= 0
    at_base = signed_gap(x, base, d) >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = signed_gap(x, base, d) / signed_gap(full, base, d)
    below = b * np.clip(attainment_ratio(x, base, d), 0, 1)
    share = np.select([at_full, at_base], [1.0, b + (1 - b) * progress], default=below)
    bad = np.isnan(x) | np.isnan(base) | np.isnan(full)
    score = np.where(bad, np.nan, P * np.clip(share, 0, 1))
    lower = _is_lower(d)
    head = ("基本满分法" + _dir_note(rows) + "：完成值" + _f(x, idx) + "，基本值" + _f(base, idx) + "，满分值"
            + _f(full, idx) + "，")
    fb, fx, ff, fP, fbase = _f(b, idx), _f(x, idx), _f(full, idx), _f(P, idx), _f(base, idx)
    mid_frac = pd.Series(np.where(lower, "(" + fbase + "−" + fx + ")/(" + fbase + "−" + ff + ")",
                                  "(" + fx + "−" + fbase + ")/(" + ff + "−" + fbase + ")"), index=idx)
    low_frac = pd.Series(np.where(lower, fbase + "/" + fx, fx + "/" + fbase), index=idx)
    text = head + _pick(idx, [at_full, at_base], [
        "达到满分值，得满分 " + _fs(score, idx),
        "得分 " + fP + "×(" + fb + "+" + _f(1 - b, idx) + "×" + mid_frac + ") = " + _fs(score, idx),
    ], default=("未达基本值，得分 " + fP + "×" + fb + "×" + low_frac + " = " + _fs(score, idx)).to_numpy(dtype=object))
    return _result(score, text)


def _group_extreme(rows: pd.DataFrame, x: pd.Series, best: bool) -> pd.Series:
    """Best (or worst) value among the rows of the same group and indicator, mirrored by direction."""
    sign = _sign(rows)
    key = pd.Series(x.to_numpy() * sign, index=rows.index)
    grouped = key.groupby([rows[k] for k in PEER_KEYS], dropna=False)
    return grouped.transform("max" if best else "min") * sign


def efficacy(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """功效系数: P · clip(c + (1−c)·(x−不允许值)/(满分值−不允许值), 0, 1); empty thresholds → group best/worst."""
    idx = rows.index
    d = rows["direction"]
    P, x, c = _num(rows, "points"), _num(rows, "value"), _base_share(rows)
    full_given, floor_given = _num(rows, "full"), _num(rows, "floor")
    full = full_given.fillna(_group_extreme(rows, x, best=True))
    floor = floor_given.fillna(_group_extreme(rows, x, best=False))
    span = signed_gap(full, floor, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw_coef = c + (1 - c) * signed_gap(x, floor, d) / span
    # equal thresholds (e.g. every unit of the group reported the same value): reaching them earns P
    coef = np.where(span > 0, raw_coef, np.where(signed_gap(x, full, d) >= 0, 1.0, 0.0))
    used = np.clip(coef, 0, 1)
    score = P * used
    lower = _is_lower(d)
    fx, ff, fl = _f(x, idx), _f(full, idx), _f(floor, idx)
    frac = pd.Series(np.where(lower, "(" + fl + "−" + fx + ")/(" + fl + "−" + ff + ")",
                              "(" + fx + "−" + fl + ")/(" + ff + "−" + fl + ")"), index=idx)
    src = pd.Series(np.where(full_given.isna() | floor_given.isna(), "（取本类别最优值、最差值）", ""), index=idx)
    clip_note = pd.Series(np.where(np.isclose(used, coef), "", "，系数限定在0～1"), index=idx)
    formula = _pick(idx, [span > 0], [
        _f(P, idx) + "×(" + _f(c, idx) + "+" + _f(1 - c, idx) + "×" + frac + ")" + clip_note + " = " + _fs(score, idx)],
        default=("满分值与不允许值相同，" + pd.Series(np.where(coef >= 1, "得满分 ", "得 "), index=idx)
                 + _fs(score, idx)).to_numpy(dtype=object))
    text = ("功效系数法" + _dir_note(rows) + "：完成值" + fx + "，满分值" + ff + "，不允许值" + fl + src
            + "，得分 " + formula)
    return _result(score, text)


def tiered(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """阶梯: ratio r = x/目标值 (反向 目标值/x); the highest tier with 下限 ≤ r gives P·得分比例."""
    idx = rows.index
    P, x, t = _num(rows, "points"), _num(rows, "value"), _num(rows, "target")
    r = pd.Series(attainment_ratio(x, t, rows["direction"]), index=idx)
    tiers = tier_tables.loc[tier_tables["lower"].notna() & tier_tables["tier_table"].notna(),
                            ["tier_table", "lower", "share"]].astype({"lower": float, "share": float})
    pairs = pd.DataFrame({"tier_table": rows["tier_table"].astype(object), "_r": r, "_row": np.arange(len(rows))})
    pairs = pairs.merge(tiers.astype({"tier_table": object}), on="tier_table", how="inner")
    pairs = pairs[pairs["lower"] <= pairs["_r"]].sort_values(["_row", "lower"])
    hit = pairs.groupby("_row").last()
    lower_hit = hit["lower"].reindex(np.arange(len(rows))).to_numpy()
    share = hit["share"].reindex(np.arange(len(rows))).fillna(0.0).to_numpy()
    score = np.where(r.isna(), np.nan, P * share)
    text = ("阶梯法" + _dir_note(rows) + "：完成值" + _f(x, idx) + "，目标值" + _f(t, idx) + "，完成比例"
            + _f(r, idx) + "，" + _pick(idx, [~np.isnan(lower_hit)], [
                "达到下限" + _f(lower_hit, idx) + "的档次（得分比例" + _f(share, idx) + "），得分 " + _f(P, idx)
                + "×" + _f(share, idx) + " = " + _fs(score, idx)],
                default="未达到档次表「" + rows["tier_table"].astype(str).to_numpy(dtype=object) + "」最低档，得0分"))
    return _result(score, text)


def shortfall(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """差额扣分: P − (shortfall against 目标值)·每项分值, floored at 0; empty 目标值 → group mean."""
    idx = rows.index
    P, x, step = _num(rows, "points"), _num(rows, "value"), _num(rows, "step")
    t_given = _num(rows, "target")
    mean = x.groupby([rows[k] for k in PEER_KEYS], dropna=False).transform("mean")
    t = t_given.fillna(mean)
    gap = np.clip(-signed_gap(x, t, rows["direction"]), 0, None)
    charged = gap * step
    score = np.clip(P - charged, 0, None)
    lower = _is_lower(rows["direction"])
    word = pd.Series(np.where(lower, "超出", "差"), index=idx)
    src = pd.Series(np.where(t_given.isna(), "（本类别平均值）", ""), index=idx)
    text = ("差额扣分法" + _dir_note(rows) + "：完成值" + _f(x, idx) + "，目标值" + _f(t, idx) + src + "，"
            + _pick(idx, [gap <= 0], ["达到目标值，不扣分，得分 " + _fs(score, idx)],
                    default=(word + _f(gap, idx) + "，扣 " + _f(gap, idx) + "×" + _f(step, idx) + " = "
                             + _f(charged, idx) + "分，得分 max(0, " + _f(P, idx) + "−" + _f(charged, idx) + ") = "
                             + _fs(score, idx)).to_numpy(dtype=object)))
    return _result(score, text)


def ranking(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """排名: position k among the group (ties share the better k); P − (k−1)·每项分值, or linear P → P·b."""
    idx = rows.index
    P, x, step, b = _num(rows, "points"), _num(rows, "value"), _num(rows, "step"), _base_share(rows)
    key = pd.Series(x.to_numpy() * _sign(rows), index=idx)
    peers = [rows[k] for k in PEER_KEYS]
    k = key.groupby(peers, dropna=False).rank(method="min", ascending=False)
    n = key.groupby(peers, dropna=False).transform("count")
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = np.where(n > 1, P - (k - 1) / (n - 1) * P * (1 - b), P)
    by_step = np.clip(P - (k - 1) * step, 0, None)
    has_step = step.notna().to_numpy()
    score = np.where(has_step, by_step, linear)
    fk, fn, fP = _f(k, idx), _f(n, idx), _f(P, idx)
    text = ("排名法" + _dir_note(rows) + "：完成值" + _f(x, idx) + "，本类别第" + fk + "名（共" + fn + "个单位），得分 "
            + _pick(idx, [has_step, n <= 1], [
                "max(0, " + fP + "−(" + fk + "−1)×" + _f(step, idx) + ") = " + _fs(score, idx),
                "仅一个单位，得满分 " + _fs(score, idx)],
                default=(fP + "−(" + fk + "−1)/(" + fn + "−1)×" + fP + "×(1−" + _f(b, idx) + ") = "
                         + _fs(score, idx)).to_numpy(dtype=object)))
    return _result(score, text)


def relative_best(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """相对最优: P · x / 最优值 (反向 P · 最优值 / x), the best among the group."""
    idx = rows.index
    P, x = _num(rows, "points"), _num(rows, "value")
    best = _group_extreme(rows, x, best=True)
    used = np.clip(attainment_ratio(x, best, rows["direction"]), 0, 1)
    score = P * used
    fx, fb, fP = _f(x, idx), _f(best, idx), _f(P, idx)
    frac = pd.Series(np.where(_is_lower(rows["direction"]), fb + "/" + fx, fx + "/" + fb), index=idx)
    text = ("相对最优法" + _dir_note(rows) + "：完成值" + fx + "，本类别最优值" + fb + "，得分 " + fP + "×" + frac
            + " = " + _fs(score, idx))
    return _result(score, text)


def _grade_text(rows: pd.DataFrame) -> pd.Series:
    text = rows["text_value"].astype(object).where(rows["text_value"].notna(), "") if "text_value" in rows else \
        pd.Series("", index=rows.index, dtype=object)
    text = text.astype(str).str.strip().astype(object)
    from_value = _f(_num(rows, "value"), rows.index)
    return text.where(text != "", from_value.where(_num(rows, "value").notna(), "")).astype(object)


def qualitative(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """定性: the grade maps through its 档次表 to P·得分比例; an unknown grade scores 0."""
    idx = rows.index
    P = _num(rows, "points")
    grade = _grade_text(rows)
    levels = tier_tables.loc[tier_tables["level"].fillna("").astype(str).str.strip() != "",
                             ["tier_table", "level", "share"]].copy()
    levels["level"] = levels["level"].astype(str).str.strip()
    levels = levels.astype({"tier_table": object, "level": object, "share": float})
    levels = levels.drop_duplicates(["tier_table", "level"])
    keys = pd.DataFrame({"tier_table": rows["tier_table"].astype(object).to_numpy(), "level": grade.to_numpy()})
    share = keys.merge(levels, on=["tier_table", "level"], how="left")["share"].to_numpy()
    known = ~np.isnan(share)
    score = P * np.nan_to_num(share, nan=0.0)
    head = "定性评价：等级「" + grade + "」，"
    text = head + _pick(idx, [known], [
        "档次表「" + rows["tier_table"].astype(str) + "」得分比例" + _f(share, idx) + "，得分 " + _f(P, idx) + "×"
        + _f(share, idx) + " = " + _fs(score, idx)],
        default=("不在档次表「" + rows["tier_table"].astype(str) + "」中，得0分").to_numpy(dtype=object))
    return _result(score, text)


def deduction(rows: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """扣分: x incidents, P − x·每项分值, floored at 0 (扣完为止). A count is always 反向 by nature."""
    idx = rows.index
    P, x, step = _num(rows, "points"), _num(rows, "value"), _num(rows, "step")
    charged = np.clip(x, 0, None) * step
    score = np.clip(P - charged, 0, None)
    text = ("扣分法：发生" + _f(x, idx) + "次（项），每次扣" + _f(step, idx) + "分，共扣" + _f(charged, idx)
            + "分，得分 max(0, " + _f(P, idx) + "−" + _f(charged, idx) + ") = " + _fs(score, idx))
    return _result(score, text)


METHODS: dict[str, Method] = {
    "完成率": completion,
    "基本满分": base_full,
    "功效系数": efficacy,
    "阶梯": tiered,
    "差额扣分": shortfall,
    "排名": ranking,
    "相对最优": relative_best,
    "定性": qualitative,
    "扣分": deduction,
}

# Methods whose score depends on the other units of the group (for documentation and reports).
GROUP_RELATIVE = frozenset({"功效系数", "差额扣分", "排名", "相对最优"})


# --------------------------------------------------------------------------- indicator scores

SCORE_COLUMNS = ["score_raw", "score", "points_available", "status", "explanation"]
METHOD_INPUTS = ["points", "value", "text_value", "target", "base", "full", "floor", "base_share", "cap", "step",
                 "tier_table", "direction", "group", "indicator_code"]


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    col = frame[column]
    if col.dtype == bool:
        return col
    return col.astype(object).where(col.notna(), False).astype(bool)


def _has_value(frame: pd.DataFrame) -> pd.Series:
    numeric = _num(frame, "value").notna()
    is_grade = frame["method"].eq("定性").fillna(False).astype(bool)
    text = pd.Series(False, index=frame.index)
    if "text_value" in frame.columns:
        # only grade rows can count a text value: strip those few, not every row
        candidates = is_grade & frame["text_value"].notna()
        tv = frame.loc[candidates, "text_value"]
        text[candidates] = tv.astype(object).astype(str).str.strip().ne("").to_numpy(dtype=bool)
    return (numeric | (is_grade & text)).astype(bool)


def score_indicators(frame: pd.DataFrame, tier_tables: pd.DataFrame) -> pd.DataFrame:
    """Score every unit × indicator row; adds score_raw, score, points_available, status, explanation.

    Group-relative methods see only the rows of their group that have a value and are
    neither exempt nor unscored.
    """
    original_index = frame.index
    out = frame.reset_index(drop=True).copy()
    if "tier_table" not in out.columns:
        out["tier_table"] = np.nan
    if "direction" not in out.columns:
        out["direction"] = "higher"
    tier_tables = tier_tables if tier_tables is not None else pd.DataFrame(columns=["tier_table", "lower", "level", "share"])
    points = _num(out, "points").fillna(0.0)
    exempt = _flag(out, "exempt")
    unscored = _flag(out, "unscored") & ~exempt
    mean_rule = out["missing_rule"].eq("mean").fillna(False).astype(bool) if "missing_rule" in out.columns else exempt & False
    has_value = _has_value(out)
    status = pd.Series(np.select(
        [exempt & mean_rule, exempt, unscored, ~has_value],
        ["exempt_mean", "exempt", "unscored", "missing"], default="scored"), index=out.index, dtype=object)

    # masks as numpy arrays, methods looked up by factorized code: per-method masks over a
    # million rows must not cost a string comparison each
    is_exempt_mean = (exempt & mean_rule).to_numpy(dtype=bool)
    is_exempt = exempt.to_numpy(dtype=bool) & ~is_exempt_mean
    is_unscored = unscored.to_numpy(dtype=bool) & ~is_exempt_mean & ~is_exempt
    is_missing = ~has_value.to_numpy(dtype=bool) & ~is_exempt_mean & ~is_exempt & ~is_unscored
    scored = ~(is_exempt_mean | is_exempt | is_unscored | is_missing)
    score_raw_np = np.full(len(out), np.nan)
    explanation_np = np.full(len(out), "", dtype=object)
    method_codes, method_names = pd.factorize(out["method"])
    known = np.zeros(len(out), dtype=bool)
    # methods see only the columns they use: taking every text column of the frame per method is the slow part
    work = out[[c for c in METHOD_INPUTS if c in out.columns]]
    for name, fn in METHODS.items():  # one pass per method, never per unit
        matches = [k for k, m in enumerate(method_names) if m == name]
        if not matches:
            continue
        mask = scored & (method_codes == matches[0])
        known |= method_codes == matches[0]
        if mask.any():
            res = fn(work.loc[mask], tier_tables)
            score_raw_np[mask] = res["score_raw"].to_numpy()
            explanation_np[mask] = res["explanation"].to_numpy(dtype=object)
    score_raw = pd.Series(score_raw_np, index=out.index)
    explanation = pd.Series(explanation_np, index=out.index, dtype=object)
    unknown = scored & ~known
    if unknown.any():
        explanation[unknown] = "未知计分方法「" + out.loc[unknown, "method"].astype(object).astype(str) + "」，得0分"
    no_param = scored & score_raw.isna().to_numpy() & ~unknown
    explanation[no_param] = explanation[no_param] + "（评分参数缺失，得0分）"
    score_raw[scored & score_raw.isna().to_numpy()] = 0.0

    score_raw[is_missing] = 0.0
    explanation[is_missing] = "未填报实际完成值，得0分"
    explanation[is_unscored] = "数据有误未计分（待核实后补评）"
    explanation[is_exempt] = "不考核，不计入应得分，按已有项归一化"

    score = round_half_up(score_raw)
    points_available = points.where(~is_exempt, 0.0)

    # 均值: the mean of the printed scores of the group's non-exempt units on that indicator
    mean_rows = pd.Series(is_exempt_mean, index=out.index)
    if mean_rows.any():
        peer_score = score.where(~exempt)
        group_mean = peer_score.groupby([out["group"], out["indicator_code"]], dropna=False).transform("mean")
        n_peers = peer_score.groupby([out["group"], out["indicator_code"]], dropna=False).transform("count")
        ok = mean_rows & group_mean.notna()
        score_raw[ok] = group_mean[ok]
        score[ok] = round_half_up(group_mean[ok])
        explanation[ok] = ("不考核，按本类别" + _f(n_peers[ok], out.index[ok]) + "个单位平均分得分 "
                           + _fs(group_mean[ok], out.index[ok]))
        alone = mean_rows & group_mean.isna()
        status[alone] = "exempt"
        points_available[alone] = 0.0
        explanation[alone] = "不考核，本类别无其他单位可取平均分，按已有项归一化"

    out["score_raw"] = score_raw
    out["score"] = score
    out["points_available"] = points_available
    out["status"] = status
    out["explanation"] = explanation
    out.index = original_index
    return out


# --------------------------------------------------------------------------- adjustments

ADJUSTMENT_COLUMNS = ["unit_code", "item_code", "name", "kind", "count", "step", "item_cap", "amount", "explanation"]
_KIND_ZH = {"bonus": "加分", "deduction": "扣分", "veto": "一票否决"}


def score_adjustments(claims: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Per unit × item: count × 每项分值, capped by 单项上限 (counts of one item are summed first).

    Claims naming an item not in the catalogue are dropped (validation reports them).
    Veto rows keep their count and have amount 0.
    """
    if claims is None or claims.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("unit_code", "item_code", "name", "kind", "explanation")
                                          else float) for c in ADJUSTMENT_COLUMNS})
    counts = (claims.assign(count=pd.to_numeric(claims["count"], errors="coerce").fillna(0.0).astype(float))
              .groupby(["unit_code", "item_code"], sort=False, as_index=False)["count"].sum())
    cat = catalogue[["item_code", "kind", "name", "step", "item_cap"]].copy()
    cat["step"] = pd.to_numeric(cat["step"], errors="coerce").astype(float)
    cat["item_cap"] = pd.to_numeric(cat["item_cap"], errors="coerce").astype(float)
    out = counts.merge(cat.drop_duplicates("item_code"), on="item_code", how="inner")
    raw = out["count"] * out["step"].fillna(0.0)
    capped = raw.clip(upper=out["item_cap"].where(out["item_cap"].notna(), np.inf))
    is_veto = out["kind"].astype(object).eq("veto")
    out["amount"] = round_half_up(capped.where(~is_veto, 0.0))
    idx = out.index
    kind_zh = out["kind"].astype(object).map(_KIND_ZH).fillna("")
    cap_note = pd.Series(np.where(raw > capped + 1e-9,
                                  "（单项上限" + _f(out["item_cap"], idx) + "分，按" + _fs(out["amount"], idx) + "分计）",
                                  ""), index=idx, dtype=object)
    out["explanation"] = _pick(idx, [is_veto], [
        "一票否决：" + out["name"].astype(str) + "（" + _f(out["count"], idx) + "项）"],
        default=(kind_zh + "：" + out["name"].astype(str) + " " + _f(out["count"], idx) + "项×" + _f(out["step"], idx)
                 + "分 = " + _fs(raw, idx) + "分" + cap_note).to_numpy(dtype=object))
    return out[ADJUSTMENT_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- totals

TOTAL_COLUMNS = ["unit_code", "unit_name", "group", "indicator_total", "points_available", "bonus", "deduction",
                 "vetoed", "veto_items", "total"]


def _effective_weights(weights: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """[group, category, weight]: a group with rows of its own uses only those, others the rows without a group."""
    w = weights.copy()
    w["group"] = w["group"].astype(object).where(w["group"].notna(), "").astype(str).str.strip()
    w["weight"] = pd.to_numeric(w["weight"], errors="coerce").fillna(0.0).astype(float)
    w["category"] = w["category"].astype(object)
    present = pd.DataFrame({"group": pd.unique(groups.astype(object))})
    specific = w[w["group"] != ""][["group", "category", "weight"]]
    generic = present[~present["group"].isin(specific["group"])].merge(
        w[w["group"] == ""][["category", "weight"]], how="cross")
    return pd.concat([specific, generic], ignore_index=True)


def _weighted_total(scored: pd.DataFrame, units: pd.DataFrame, weights: pd.DataFrame, percent: bool) -> pd.Series:
    by_cat = (scored.assign(score=scored["score"].fillna(0.0))
              .groupby(["unit_code", "category"], as_index=False)[["score", "points_available"]].sum())
    unit_groups = units[["unit_code", "group"]].astype({"unit_code": object, "group": object})
    eff = _effective_weights(weights, unit_groups["group"])
    full_sum = eff.groupby("group")["weight"].sum()
    frame = (unit_groups.merge(eff, on="group", how="inner")
             .merge(by_cat.astype({"unit_code": object, "category": object}), on=["unit_code", "category"], how="left"))
    frame = frame[frame["points_available"].fillna(0.0) > 0]  # a category the unit was not assessed on is dropped
    frame = frame.assign(part=frame["weight"] * frame["score"] / frame["points_available"])
    agg = frame.groupby("unit_code").agg(part=("part", "sum"), present=("weight", "sum"), group=("group", "first"))
    full = agg["group"].map(full_sum)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = agg["part"] * full / agg["present"]  # rescale the remaining weights to the full weight sum
        if percent:
            value = value * 100.0 / full
    value = value.where(agg["present"] > 0, 0.0)
    return value.reindex(units["unit_code"].astype(object)).fillna(0.0)


def compute_totals(scored: pd.DataFrame, adjustment_scores: pd.DataFrame, units: Any, meta: Any = None,
                   weights: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per unit: indicator_total (raw, 百分制 or weighted), bonus, deduction, veto, total.

    `units` is the scheme's units frame (or a Scheme, whose units, meta and weights are
    then used); `meta` needs total_mode, bonus_cap and veto_effect.
    """
    if hasattr(units, "units") and hasattr(units, "meta"):
        scheme = units
        units, meta = scheme.units, scheme.meta
        weights = getattr(scheme, "weights", None) if weights is None else weights
    units = units[["unit_code", "unit_name", "group"]].reset_index(drop=True)
    codes = units["unit_code"].astype(object)
    percent = getattr(meta, "total_mode", "raw") == "percent"

    per_unit = (scored.assign(score=scored["score"].fillna(0.0), unit_code=scored["unit_code"].astype(object))
                .groupby("unit_code")[["score", "points_available"]].sum())
    sums = per_unit.reindex(codes).fillna(0.0)
    points_available = round_half_up(sums["points_available"].to_numpy())
    if weights is not None and len(weights):
        indicator_total = round_half_up(_weighted_total(scored, units, weights, percent).to_numpy())
    elif percent:
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(points_available > 0, sums["score"].to_numpy() * 100.0 / points_available, 0.0)
        indicator_total = round_half_up(scaled)
    else:
        indicator_total = round_half_up(sums["score"].to_numpy())

    adj = adjustment_scores if adjustment_scores is not None else pd.DataFrame(columns=ADJUSTMENT_COLUMNS)
    adj = adj.assign(unit_code=adj["unit_code"].astype(object), kind=adj["kind"].astype(object),
                     amount=pd.to_numeric(adj["amount"], errors="coerce").fillna(0.0).astype(float),
                     count=pd.to_numeric(adj["count"], errors="coerce").fillna(0.0).astype(float))
    bonus_sum = adj[adj["kind"].eq("bonus")].groupby("unit_code")["amount"].sum().reindex(codes).fillna(0.0)
    deduction_sum = adj[adj["kind"].eq("deduction")].groupby("unit_code")["amount"].sum().reindex(codes).fillna(0.0)
    bonus_cap = getattr(meta, "bonus_cap", None)
    bonus = bonus_sum.to_numpy()
    if bonus_cap is not None and not (isinstance(bonus_cap, float) and math.isnan(bonus_cap)):
        bonus = np.minimum(bonus, float(bonus_cap))
    bonus = round_half_up(bonus)
    deduction_total = round_half_up(deduction_sum.to_numpy())
    vetoes = adj[adj["kind"].eq("veto") & (adj["count"] > 0)]
    veto_items = (vetoes.groupby("unit_code")["name"].agg(lambda names: "、".join(pd.unique(names.astype(str))))
                  .reindex(codes).fillna("").astype(object))
    vetoed = veto_items.ne("").to_numpy()

    total = round_half_up(indicator_total + bonus - deduction_total)
    if getattr(meta, "veto_effect", None) == "zero":
        total = np.where(vetoed, 0.0, total)
    return pd.DataFrame({
        "unit_code": units["unit_code"], "unit_name": units["unit_name"], "group": units["group"],
        "indicator_total": indicator_total, "points_available": points_available, "bonus": bonus,
        "deduction": deduction_total, "vetoed": vetoed, "veto_items": veto_items.to_numpy(), "total": total,
    })[TOTAL_COLUMNS]
