"""Gap analysis (差距分析).

`gap_table` answers, per unit × indicator, which value reaches the base score and which
the full score, solved in closed form by each method's registered inverse (never by
search; kaohe_excel/methods/), and for group-relative methods which value lifts the unit
one position. What-if simulation (模拟测算) is kaohe_excel/simulate.py.

Definitions (docs/methods.md notation):
- full score: the most the method can give: P·上限系数 (完成率), P·max 得分比例 (阶梯, 定性),
  otherwise P.
- base score (基本分): P·b, b = 基本分比例 (default 0.6). Methods with a base of their own
  hit it exactly: 基本满分 at 基本值, 功效系数 (c = b) at 不允许值; 阶梯/定性 need the first
  tier/grade whose share is ≥ b; 扣分 allows floor(P(1−b)/step) incidents.
- group-relative methods assume the other units' values stay as they are ("others fixed");
  the needed value is solved against the other units only, so the unit's own value never
  moves the reference it is measured against.
Values are handled in "key" space (value × sign, sign −1 for 反向 and for counts) so bigger
is always better and every method is written once, like score.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from kaohe_excel.scoring import methods
from kaohe_excel.scoring.explain import round_half_up, show_counts, show_numbers, show_one
from kaohe_excel.base.memory import release_unused
from kaohe_excel.scoring.methods._inverse import NEEDED, Ctx, blank, peer_stats
from kaohe_excel.scoring.methods.mirror import is_lower, num
from kaohe_excel.scoring.score import category_factors

GAP_COLUMNS = ["unit_code", "unit_name", "group", "indicator_code", "name", "method", "direction", "measure_unit",
               "status", "value", "text_value", "score", "points", "base_score", "full_score", "value_for_base",
               "value_for_full", "value_for_next_rank", "grade_for_base", "grade_for_full", "points_to_base",
               "points_to_full", "points_at_stake", "sentence", "decimals"]

_SENTENCE_ROWS = 50_000

# the columns the inverses read
_PARAMS = ["method", "points", "target", "base", "full", "floor", "cap", "step", "base_share", "tier_table"]


# --------------------------------------------------------------------------- total factor


def _total_factor(scored: pd.DataFrame, rows: pd.DataFrame, scheme: Any) -> pd.Series:
    """How many points of 总分 one point of this indicator is worth (before rounding).

    原始分 → 1; 百分制 → 100 / the unit's points available; 权重 → w_c · W/present / points_c
    (× 100/W with 百分制): score.category_factors, the formula compute_totals uses.
    """
    if scheme is None:
        return pd.Series(1.0, index=rows.index)
    percent = getattr(scheme.meta, "total_mode", "raw") == "percent"
    weights = getattr(scheme, "weights", None)
    # three columns, not a copy of every score with its sentence
    pts = pd.DataFrame({"unit_code": scored["unit_code"],
                        "category": scored["category"] if "category" in scored.columns else "",
                        "points_available": num(scored, "points_available").fillna(0.0)})
    unit = rows["unit_code"].astype(object)
    if weights is not None and len(weights):
        by_cat = (pts.assign(unit_code=pts["unit_code"].astype(object), category=pts["category"].astype(object))
                  .groupby(["unit_code", "category"], as_index=False)["points_available"].sum())
        frame = category_factors(by_cat, scheme.units, weights, percent)
        keyed = frame.set_index(["unit_code", "category"])["factor"]
        idx = pd.MultiIndex.from_arrays([unit, rows["category"].astype(object)])
        return pd.Series(keyed.reindex(idx).fillna(0.0).to_numpy(), index=rows.index)
    if percent:
        available = pts.assign(unit_code=pts["unit_code"].astype(object)).groupby("unit_code")["points_available"].sum()
        factor = 100.0 / available.where(available > 0)
        return pd.Series(unit.map(factor).astype(float).fillna(0.0).to_numpy(), index=rows.index)
    return pd.Series(1.0, index=rows.index)


def _relative_rows(rows: pd.DataFrame, at: dict[str, np.ndarray]) -> pd.Series:
    """Rows whose score depends on their rank among the group: they get a one-position target."""
    out = np.zeros(len(rows), dtype=bool)
    for name, pos in at.items():
        out[pos] = methods.METHODS[name].relative_rows(rows.iloc[pos])
    return pd.Series(out, index=rows.index)


# --------------------------------------------------------------------------- display


_MAX_DECIMALS = 4


def _decimals_of(values: np.ndarray) -> np.ndarray:
    """The decimals each number is written with (0..4; NaN → 0): 85 → 0, 85.3 → 1, 0.45 → 2."""
    v = np.abs(np.asarray(values, dtype=float))
    v = np.where(np.isfinite(v), v, 0.0)
    out = np.full(len(v), _MAX_DECIMALS, dtype=np.int64)
    for d in range(_MAX_DECIMALS - 1, -1, -1):
        scaled = v * 10.0 ** d
        exact = np.abs(scaled - np.round(scaled)) < 1e-6 * np.maximum(1.0, scaled)
        out = np.where(exact, d, out)
    return out


def _indicator_decimals(rows: pd.DataFrame) -> np.ndarray:
    """Per row, the decimals its indicator's figures are written with (its values, 基本值, 目标值,
    满分值, 不允许值, over all units), at least 2: the needed values are shown to that precision
    (95.5 → 97.29, not 97.2889; integer figures still get 2.10 rather than an overstated 3)."""
    d = np.full(len(rows), 2, dtype=np.int64)
    for column in ("value", "target", "base", "full", "floor"):
        if column in rows.columns:
            d = np.maximum(d, _decimals_of(num(rows, column).to_numpy()))
    per = pd.Series(d, index=rows.index).groupby(rows["indicator_code"].astype(object).to_numpy()).transform("max")
    return per.to_numpy(dtype=np.int64)


def _needed_at(values: Any, lower: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """A needed value rounded to its indicator's decimals on the safe side (up for 正向, down for 反向)."""
    scale = 10.0 ** np.asarray(decimals, dtype=float)
    v = np.round(np.asarray(values, dtype=float) * scale, 5)
    return np.where(lower, np.floor(v), np.ceil(v)) / scale + 0.0


def _join(mask: np.ndarray, *parts: Any) -> np.ndarray:
    """Elementwise concatenation of str constants and per-row object arrays, on mask rows ("" elsewhere).

    One str.join per row (map/zip run in C): chained `+` would build every intermediate string.
    """
    out = np.full(len(mask), "", dtype=object)
    at = np.flatnonzero(mask)
    columns = [itertools.repeat(part, len(at)) if isinstance(part, str) else part[at] for part in parts]
    out[at] = list(map("".join, zip(*columns)))
    return out


def _sentence(g: pd.DataFrame) -> pd.Series:
    """One Chinese sentence per row with the numbers plugged in.

    Pieces are numpy object arrays joined only on the rows whose sentence shows them: str
    columns would go to and from Arrow at every step (seconds at 100,000 rows).
    """
    method = g["method"].astype(object).to_numpy()
    is_count, is_grade = np.isin(method, methods.with_value("count")), np.isin(method, methods.with_value("grade"))
    lower = is_lower(g["direction"]) | is_count
    status = g["status"].astype(object).to_numpy()
    mu = g["measure_unit"].astype(object).where(g["measure_unit"].notna(), "").astype(str).str.strip()
    mu = np.select([mu.eq(""), mu.isin(["%", "‰"])], ["", mu], default=" " + mu).astype(object)
    verb = np.where(lower, "降至", "完成").astype(object)
    grades = {col: g[col].astype(object).to_numpy() for col in ("grade_for_base", "grade_for_full")}
    decimals = (g["decimals"].to_numpy(dtype=np.int64) if "decimals" in g.columns
                else np.full(len(g), _MAX_DECIMALS, dtype=np.int64))

    def texts(values: Any, count: bool = False) -> np.ndarray:
        return (show_counts if count else show_numbers)(values, g.index).to_numpy()

    def amount(col: str, rows: np.ndarray) -> np.ndarray:
        return np.select(
            [is_grade, is_count],
            [_join(rows & is_grade, "评为「", grades[col.replace("value", "grade")], "」"),
             _join(rows & is_count, "扣分事项不超过 ", texts(g[col], count=True), " 次")],
            default=_join(rows & ~is_grade & ~is_count, verb, " ", texts(_needed_at(g[col], lower, decimals)), mu))

    next_rank = g["value_for_next_rank"].notna().to_numpy()
    has_full = (g["value_for_full"].notna() | g["grade_for_full"].astype(str).ne("")).to_numpy()
    needs_base = (g["points_to_base"].gt(0) & (g["value_for_base"].notna()
                                               | g["grade_for_base"].astype(str).ne(""))).to_numpy()
    at_full = (g["points_to_full"].le(0) & g["status"].eq("scored")).to_numpy()
    # the first of these that holds picks the sentence, as np.select would
    led, full = at_full & next_rank, at_full & ~next_rank
    anyway = ~at_full & ~has_full & g["full_always"].to_numpy(dtype=bool)
    no_params = ~at_full & ~has_full & ~anyway
    short = ~at_full & has_full

    said = anyway | no_params | short
    current = np.select(
        [status == "missing", status == "unscored", is_grade, is_count],
        [np.array("目前未填报", dtype=object), np.array("目前数据有误未计分", dtype=object),
         _join(said & is_grade, "目前「", g["text_value"].astype(object).fillna("").astype(str).to_numpy(dtype=object), "」"),
         _join(said & is_count, "目前 ", texts(g["value"], count=True), " 次")],
        default=_join(said, "目前 ", texts(g["value"])))
    stake = show_numbers(g["points_at_stake"].to_numpy(), g.index, cents=True).to_numpy()
    gain = _join(anyway | short, "，可增加 ", stake, " 分")
    for_full = np.where(is_count, "不发生扣分事项", amount("value_for_full", short & ~is_count)).astype(object)
    base_part = _join(short & needs_base, "距基本分需", amount("value_for_base", short & needs_base), "，")
    next_part = _join(short & next_rank, "，升一位需", verb, " ", texts(_needed_at(g["value_for_next_rank"], lower, decimals)),
                      mu, "（与上一位持平即可）")
    score = texts(g["score"])
    return pd.Series(np.select(
        [led, full, anyway, no_params],
        [_join(led, "已得满分 ", score, " 分（须保持本类别领先）"), _join(full, "已得满分 ", score, " 分"),
         _join(anyway, "填报即可得满分（", current, "）", gain), _join(no_params, "评分参数缺失，无法测算（", current, "）")],
        default=_join(short, base_part, "距满分还需", for_full, "（", current, "）", next_part, gain)),
        index=g.index, dtype=object)


# --------------------------------------------------------------------------- gap table


def gap_table(scored: pd.DataFrame, tier_tables: pd.DataFrame, scheme: Any = None) -> pd.DataFrame:
    """Per unit × indicator: the values needed for the base and full score, and the points at stake.

    `scored` is score.score_indicators' output. Exempt rows are left out. `points_to_full`
    counts indicator points; `points_at_stake` converts them into 总分 points when the
    scheme is given (百分制 / 权重), else equals `points_to_full`. Sorted per unit by
    points at stake, largest first.
    """
    status = scored["status"].astype(object)
    # the columns read here only: a city's scores with their sentences would double in memory
    wanted = dict.fromkeys(GAP_COLUMNS + _PARAMS + ["category", "order", "points_available", "direction", "tier_table"])
    rows = scored.loc[~status.isin(["exempt", "exempt_mean"]), [c for c in wanted if c in scored.columns]]
    rows = rows.reset_index(drop=True)
    for column, default in (("direction", "higher"), ("tier_table", np.nan), ("measure_unit", ""), ("text_value", None),
                            ("unit_name", ""), ("category", ""), ("order", np.nan)):
        if column not in rows.columns:
            rows[column] = default
    tier_tables = tier_tables if tier_tables is not None else pd.DataFrame(columns=["tier_table", "lower", "level", "share"])
    method = rows["method"].astype(object)
    # a count of incidents is always 反向 by nature
    sign = pd.Series(np.where(is_lower(rows["direction"]) | method.isin(methods.with_value("count")).to_numpy(), -1.0, 1.0),
                     index=rows.index)
    key = num(rows, "value") * sign
    peer_ok = rows["status"].astype(object).eq("scored") & key.notna()
    stats, peers = peer_stats(rows, key, peer_ok)
    ctx = Ctx(key, sign, stats, peers, pd.Series(np.arange(len(rows)), index=rows.index), tier_tables)

    # only the parameter columns: slicing every text column of `scored` per method costs more than solving
    params = rows[[c for c in _PARAMS if c in rows.columns]]
    at = {name: pos for name, pos in method.groupby(method.to_numpy(), sort=False).indices.items()
          if name in methods.METHODS}
    solved = [methods.METHODS[name].inverse(params.iloc[pos], ctx)[NEEDED] for name, pos in at.items()]  # one pass per method
    rest = np.setdiff1d(np.arange(len(rows)), np.concatenate([np.empty(0, dtype=np.int64), *at.values()]))
    if len(rest) or not solved:
        solved.append(blank(rows.iloc[rest]))
    need = pd.concat(solved).reindex(rows.index)
    need = need.astype({c: float for c in ("base_score", "full_score", "key_base", "key_full", "key_next")})
    # the next better unit's value: equalling it shares its position (ties share the better one)
    need["key_next"] = stats["next_better"].where(_relative_rows(rows, at) & peer_ok)
    need["full_score"] = need["full_score"].fillna(num(rows, "points"))

    score = num(rows, "score")
    current = score.fillna(0.0)
    full_score = round_half_up(need["full_score"])
    base_score = round_half_up(need["base_score"])
    out = rows.assign(
        score=score,
        base_score=base_score,
        full_score=full_score,
        value_for_base=need["key_base"] * sign + 0.0,
        value_for_full=need["key_full"] * sign + 0.0,
        value_for_next_rank=need["key_next"] * sign + 0.0,
        grade_for_base=need["grade_for_base"].astype(object),
        grade_for_full=need["grade_for_full"].astype(object),
        full_always=need["full_always"].astype(bool),
        points_to_base=round_half_up((base_score - current).clip(lower=0.0)),
        points_to_full=round_half_up((full_score - current).clip(lower=0.0)),
    )
    out["points_at_stake"] = round_half_up(out["points_to_full"] * _total_factor(scored, rows, scheme))
    out["decimals"] = _indicator_decimals(rows)
    # the solving tables (peer statistics, each method's needs: ~250 MB at 10,000 units) are not
    # needed for the sentences and the sort, which copy the table once more
    del rows, params, solved, need, ctx, stats, peers, key, sign, peer_ok, score, current, full_score, base_score
    release_unused()
    # in slices: a sentence reads only its own row, and its pieces for a city's 550,000 rows at once
    # would take a few hundred MB
    sentences = pd.concat([_sentence(out.iloc[i:i + _SENTENCE_ROWS]) for i in range(0, len(out), _SENTENCE_ROWS)]
                          or [_sentence(out)])
    # one object per distinct sentence, not per row: a city's 550,000 rows repeat a few thousand (~75 MB)
    distinct: dict[str, str] = {}
    out["sentence"] = pd.Series([distinct.setdefault(t, t) for t in sentences.tolist()], index=sentences.index, dtype=object)
    # the order found on the sort keys, then the table's columns taken once in that order (sorting the
    # whole frame, then selecting, copied every row of every column twice: ~250 MB at 10,000 units)
    by = ["unit_code", "points_at_stake", "order", "indicator_code"]
    order = out[by].reset_index(drop=True).sort_values(by, ascending=[True, False, True, True], kind="stable").index
    out = out.iloc[order.to_numpy(), [out.columns.get_loc(c) for c in GAP_COLUMNS]].reset_index(drop=True)
    release_unused()  # the solving tables of a city's 550,000 rows
    return out


GAP_SHEET_HEADERS = ["指标代码", "指标名称", "计分方法", "计量单位", "实际完成值", "得分", "满分", "基本分",
                     "达到基本分需", "达到满分需", "升一位需", "距满分差（分）", "可增加总分", "说明"]


def gap_sheet_rows(gap: pd.DataFrame, unit_code: str | None = None) -> pd.DataFrame:
    """The 差距分析 sheet of a unit's feedback workbook (Chinese headers).

    Values are numbers (a grade for 定性, a count for 扣分), so Excel can sort and add them; needed
    values are rounded to the indicator's own decimals on the safe side, so reaching the printed
    value is enough. With unit_code None every unit is listed, with 单位代码/单位名称 in front.
    """
    g = gap if unit_code is None else gap[gap["unit_code"].astype(object).eq(unit_code)]
    g = g.reset_index(drop=True)
    idx = g.index
    method = g["method"].astype(object)
    is_count = method.isin(methods.with_value("count")).to_numpy()
    lower = is_lower(g["direction"]) | is_count
    is_grade = method.isin(methods.with_value("grade")).to_numpy()
    decimals = (g["decimals"].to_numpy(dtype=np.int64) if "decimals" in g.columns
                else np.full(len(g), _MAX_DECIMALS, dtype=np.int64))

    def number(values: Any) -> pd.Series:
        v = np.asarray(values, dtype=float)
        return pd.Series(np.where(np.isfinite(v), v, np.nan), index=idx).astype(object).where(np.isfinite(v), None)

    def needed(col: str, grade_col: str | None = None) -> pd.Series:
        shown = number(_needed_at(g[col], lower, decimals))
        grade = g[grade_col].astype(object).where(g[grade_col].notna(), "") if grade_col else pd.Series("", index=idx, dtype=object)
        return pd.Series(np.where(is_grade, grade.where(grade != "", None), shown), index=idx, dtype=object)

    value = pd.Series(np.where(is_grade, g["text_value"].astype(object).where(g["text_value"].notna(), None),
                               number(g["value"])), index=idx, dtype=object)
    value = value.where(~g["status"].isin(["missing", "unscored"]).to_numpy() | is_grade, None)
    for_full = needed("value_for_full", "grade_for_full")
    for_full = for_full.where(~(is_count & g["value_for_full"].notna().to_numpy()), 0.0)
    table = pd.DataFrame({
        "指标代码": g["indicator_code"], "指标名称": g["name"], "计分方法": g["method"],
        "计量单位": g["measure_unit"].astype(object).fillna(""), "实际完成值": value,
        "得分": g["score"], "满分": g["full_score"], "基本分": g["base_score"],
        "达到基本分需": needed("value_for_base", "grade_for_base"),
        "达到满分需": for_full,
        "升一位需": needed("value_for_next_rank"),
        "距满分差（分）": g["points_to_full"], "可增加总分": g["points_at_stake"], "说明": g["sentence"],
    })
    if unit_code is None:
        table.insert(0, "单位名称", g["unit_name"])
        table.insert(0, "单位代码", g["unit_code"])
    return table


_VALUE_HEADERS = ["实际完成值", "达到基本分需", "达到满分需", "升一位需"]


def sheet_rows_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """gap_sheet_rows' value columns as the texts a terminal shows (0.7142 stays 0.7142, 8 → 8.00)."""
    out = table.copy()
    for column in _VALUE_HEADERS:
        if column in out.columns:
            out[column] = out[column].map(lambda v: "" if v is None or (isinstance(v, float) and v != v)
                                          else (show_one(float(v)) if isinstance(v, (int, float)) else str(v)))
    return out
