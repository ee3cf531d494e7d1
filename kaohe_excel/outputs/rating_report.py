"""The 测评 outputs as display frames (Chinese headers): 测评结果, 测评票校验, and one unit's block.

Ballots are anonymous: a ballot is named only by its 票号 and file, never by a rater."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaohe_excel.scheme.rating_scheme import COLLECT_TALLY
from kaohe_excel.scoring.rating_score import STATUS_VALID, _nums
from kaohe_excel.inputs.rating_validate import STATUS_ZH
from kaohe_excel.scoring.score import round_half_up

RESULT_SHEET = "测评结果"
CHECK_SHEET = "测评票校验"


def _r2(series: pd.Series) -> pd.Series:
    return pd.Series(round_half_up(series.astype(float), 2), index=series.index)


# columns shown with two decimals (a mean of 85 next to one of 89.23 reads as a different precision)
SCORE_COLUMNS = {"平均分": "score", "测评值": "score"}


def _in_scheme_order(stats: pd.DataFrame, scheme, by: tuple[str, ...] = ("_r", "_u", "_g")) -> pd.DataFrame:
    """Rows in the scheme's order of evaluations (_r), units (_u) and rater groups (_g), by `by`:
    each unit's rows of an evaluation stay together."""
    rating_pos = {code: i for i, code in enumerate(scheme.ratings["rating_code"])}
    group_pos = {(r.rating_code, r.rater_group): i for i, r in enumerate(scheme.raters.itertuples(index=False))}
    unit_pos = {code: i for i, code in enumerate(scheme.units["unit_code"])}
    return stats.assign(
        _u=stats["unit_code"].map(unit_pos), _r=stats["rating_code"].map(rating_pos),
        _g=[group_pos.get(key) for key in zip(stats["rating_code"], stats["rater_group"])],
    ).sort_values(list(by), kind="stable").drop(columns=["_u", "_r", "_g"]).reset_index(drop=True)


def result_frame(outcome, scheme) -> pd.DataFrame:
    """Per evaluation × unit × rater group: valid marks, dropped, mean, 优秀率; the weighted value."""
    stats = outcome.stats.merge(outcome.values[["rating_code", "unit_code", "value"]], on=["rating_code", "unit_code"], how="left")
    stats = _in_scheme_order(stats, scheme)
    names = scheme.unit_names()
    rating_names = dict(zip(scheme.ratings["rating_code"], scheme.ratings["rating_name"]))
    dropped = np.where(stats["dropped"] > 0, "最高 " + _nums(stats["dropped_high"]) + "、最低 " + _nums(stats["dropped_low"]), "")
    return pd.DataFrame({
        "测评": stats["rating_code"].map(rating_names), "单位代码": stats["unit_code"], "单位名称": stats["unit_code"].map(names),
        "测评人类别": stats["rater_group"], "权重": (stats["weight"].astype(float) * 100).map(lambda v: f"{v:g}%"),
        "有效评价数": stats["count"], "去掉的评价": dropped, "平均分": _r2(stats["mean"]),
        "优秀率": (stats["top_share"].astype(float) * 100).map(lambda v: f"{v:.1f}%" if v == v else ""),
        "测评值": stats["value"],
    })


def check_frames(outcome) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(participation per group against 应参评人数, every ballot not counted and why)."""
    part = outcome.participation
    # a 汇总 group sends vote counts per unit, not ballots: its ballot columns are "—", not 0
    tally = part["collect"].astype(str).eq(COLLECT_TALLY).to_numpy()

    def counts(column: str) -> pd.Series:
        return pd.Series(np.where(tally, "—", part[column].to_numpy(dtype=object)), index=part.index, dtype=object)

    participation = pd.DataFrame({
        "测评代码": part["rating_code"], "测评人类别": part["rater_group"], "收集方式": part["collect"],
        "应参评人数": part["expected"], "收到票数": counts("received"), "有效票": counts("valid"), "作废票": counts("void"),
        "空白票": counts("blank"),
        "参评率": (part["rate"].astype(float) * 100).map(lambda v: f"{v:.1f}%" if v == v else "—"),
        "说明": np.where(tally, "按各单位汇总票数计入", ""),
    })
    bad = outcome.ballots[outcome.ballots["status"] != STATUS_VALID]
    where = np.where(bad["cell"] != "", bad["sheet"] + "!" + bad["cell"], "")  # a paper ballot's 票号 cell
    ballots = pd.DataFrame({"测评代码": bad["rating_code"], "测评人类别": bad["rater_group"], "票号": bad["ballot"],
                            "文件": bad["file"], "位置": where, "处理": bad["status"].map(STATUS_ZH)})
    return participation, ballots


FEEDBACK_SHEET = "测评情况"
_TALLY_NOTE = "按汇总票数计"
_ABSENT_NOTE = "无有效评价，权重不计"


def unit_blocks(outcome, scheme, scored: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every unit's feedback block, 单位代码 first so that it is sliced per unit: per evaluation and
    rater group its valid marks, the marks trimming dropped, the mean and the weight; the weighted
    value and the indicator's score beside them. Only aggregates: no ballot, 票号 or file."""
    stats = outcome.stats.merge(outcome.values[["rating_code", "unit_code", "value", "indicator_code"]],
                                on=["rating_code", "unit_code"], how="left")
    ratings = scheme.ratings.reset_index(drop=True)
    stats = _in_scheme_order(stats, scheme, by=("_u", "_r", "_g"))  # per unit: it is sliced per unit
    # the indicator the value lands on, also for a unit that got no mark at all (its value is missing)
    indicator = stats["rating_code"].map(dict(zip(ratings["rating_code"], ratings["indicator_code"])))
    names = dict(zip(scheme.indicators["indicator_code"], scheme.indicators["name"])) if "name" in scheme.indicators else {}
    score = pd.Series(np.nan, index=stats.index)
    points = pd.Series(np.nan, index=stats.index)
    if scored is not None and len(scored):
        keyed = scored.drop_duplicates(["unit_code", "indicator_code"]).set_index(["unit_code", "indicator_code"])
        keys = pd.MultiIndex.from_arrays([stats["unit_code"], indicator])
        score = pd.Series(pd.to_numeric(keyed["score"], errors="coerce").reindex(keys).to_numpy(), index=stats.index)
        points = pd.Series(pd.to_numeric(keyed["points_available"], errors="coerce").reindex(keys).to_numpy(),
                           index=stats.index)
    marked = stats["count"] > 0
    dropped = np.where(stats["dropped"] > 0, "最高 " + _nums(stats["dropped_high"]) + "、最低 " + _nums(stats["dropped_low"]), "")
    note = np.where(~marked, _ABSENT_NOTE, np.where(stats["tally"].astype(bool), _TALLY_NOTE, ""))
    return pd.DataFrame({
        "单位代码": stats["unit_code"],
        "测评": stats["rating_code"].map(dict(zip(ratings["rating_code"], ratings["rating_name"]))),
        "测评人类别": stats["rater_group"],
        "权重": (stats["weight"].astype(float) * 100).map(lambda v: f"{v:g}%"),
        "有效票数": stats["count"].astype(int),
        "去掉的评价": dropped,
        "平均分": _r2(stats["mean"]),
        "测评值": stats["value"],
        "计入指标": indicator.map(names).fillna(indicator),
        "指标分值": points,
        "指标得分": score,
        "说明": note,
    })


def unit_block(outcome, scheme, unit_code: str, scored: pd.DataFrame | None = None) -> pd.DataFrame:
    """One unit's own per-group counts, dropped marks, means and weights, its value and score
    (its feedback); never single ballots."""
    blocks = unit_blocks(outcome, scheme, scored)
    return blocks[blocks["单位代码"] == unit_code].drop(columns=["单位代码"]).reset_index(drop=True)


def participation_sentences(outcome, scheme) -> list[str]:
    """The notice's participation per evaluation: ballots issued (应参评人数) and valid, and the
    参评率, with each ballot group's figures when there are several; 汇总 groups have no ballots."""
    part = outcome.participation
    if part is None or not len(part):
        return []
    names = dict(zip(scheme.ratings["rating_code"], scheme.ratings["rating_name"]))
    lines = []
    for code in dict.fromkeys(part["rating_code"]):
        rows = part[part["rating_code"] == code]
        tally = rows["collect"].astype(str).eq(COLLECT_TALLY).to_numpy()
        ballots, tallied = rows[~tally], rows[tally]
        name = str(names.get(code, code))
        parts = []
        if len(ballots):
            issued, valid = int(ballots["expected"].astype(float).sum()), int(ballots["valid"].sum())
            text = f"{name}共发放测评票{issued}张，收回有效票{valid}张，参评率{_pct(valid / issued)}"
            if len(ballots) > 1:
                text += "（" + "；".join(
                    f"{r.rater_group}发放{int(r.expected)}张、有效{int(r.valid)}张，参评率{_pct(r.valid / r.expected)}"
                    for r in ballots.itertuples(index=False)) + "）"
            parts.append(text)
        if len(tallied):
            groups = "、".join(str(g) for g in tallied["rater_group"])
            parts.append(f"{groups}评价按汇总票数计入" if parts else f"{name}的{groups}评价按汇总票数计入")
        lines.append("；".join(parts) + "。")
    return lines


def _pct(share: float) -> str:
    return f"{float(round_half_up(float(share) * 100, 1)):.1f}%"
