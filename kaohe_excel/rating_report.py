"""The 测评 outputs as display frames (Chinese headers): 测评结果, 测评票校验, and one unit's block.

Ballots are anonymous: a ballot is named only by its 票号 and file, never by a rater."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rating_score import STATUS_VALID, _nums
from .rating_validate import STATUS_ZH
from .score import round_half_up

RESULT_SHEET = "测评结果"
CHECK_SHEET = "测评票校验"


def _r2(series: pd.Series) -> pd.Series:
    return pd.Series(round_half_up(series.astype(float), 2), index=series.index)


def result_frame(outcome, scheme) -> pd.DataFrame:
    """Per evaluation × unit × rater group: valid marks, dropped, mean, 优秀率; the weighted value."""
    stats = outcome.stats.merge(outcome.values[["rating_code", "unit_code", "value"]], on=["rating_code", "unit_code"], how="left")
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
    participation = pd.DataFrame({
        "测评代码": part["rating_code"], "测评人类别": part["rater_group"], "收集方式": part["collect"],
        "应参评人数": part["expected"], "收到票数": part["received"], "有效票": part["valid"], "作废票": part["void"],
        "空白票": part["blank"],
        "参评率": (part["rate"].astype(float) * 100).map(lambda v: f"{v:.1f}%" if v == v else "—"),
    })
    bad = outcome.ballots[outcome.ballots["status"] != STATUS_VALID]
    ballots = pd.DataFrame({"测评代码": bad["rating_code"], "测评人类别": bad["rater_group"], "票号": bad["ballot"],
                            "文件": bad["file"], "处理": bad["status"].map(STATUS_ZH)})
    return participation, ballots


def unit_block(outcome, scheme, unit_code: str) -> pd.DataFrame:
    """One unit's own per-group counts, means and value (its feedback); never single ballots."""
    frame = result_frame(outcome, scheme)
    return frame[frame["单位代码"] == unit_code].drop(columns=["单位代码", "单位名称"]).reset_index(drop=True)
