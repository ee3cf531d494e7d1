"""测评 scoring (judge_ballots → group_stats → unit_values, participation) against a plain per-ballot,
per-unit reference written here from the rules of domain.md (测评, Computation 1–5).

The data set is random but seeded and small: several evaluations and rater groups, groups that
gave a unit fewer, exactly 去极值人数 and more valid marks, void ballots (每票优秀上限, 全同无效),
blank ballots, abstentions, a 汇总 group (one unit with no votes) and a unit nobody marked.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from kaohe_excel.scoring import rating_score

GRADES = [("优秀", 100.0), ("称职", 80.0), ("基本称职", 60.0), ("不称职", 0.0)]
UNITS = [("T01", "乡镇"), ("T02", "乡镇"), ("T03", "乡镇"), ("T04", "乡镇"),
         ("D01", "部门"), ("D02", "部门"), ("D03", "部门"), ("D04", "部门")]
NAN = math.nan
RATINGS = [
    # grade ballots, trim above 3, at most floor(units × 50 %) 优秀, 全同无效
    {"rating_code": "M1", "rating_name": "民主测评", "indicator_code": "R1", "mode": "grade", "grades": GRADES,
     "full": 100.0, "trim_above": 3.0, "top_limit_count": NAN, "top_limit_share": 0.5, "all_same_void": True,
     "min_participation": 0.8},
    # scores out of 30 (points are thirds on the 100 scale), trim above 4, at most 2 marks ≥ 27
    {"rating_code": "M2", "rating_name": "满意度测评", "indicator_code": "R2", "mode": "score", "grades": [],
     "full": 30.0, "trim_above": 4.0, "top_limit_count": 2.0, "top_limit_share": NAN, "all_same_void": False,
     "min_participation": NAN},
    # never trimmed, no top limit
    {"rating_code": "M3", "rating_name": "考核组评价", "indicator_code": "R3", "mode": "grade", "grades": GRADES,
     "full": 100.0, "trim_above": NAN, "top_limit_count": NAN, "top_limit_share": NAN, "all_same_void": True,
     "min_participation": 0.5},
]
# rating, group, weight, 应参评人数 (ballots made), 评价对象, 收集方式
RATERS = [
    ("M1", "县领导", 0.2, 7, "全部", "电子票"),
    ("M1", "干部职工", 0.5, 9, "全部", "纸质票"),
    ("M1", "服务对象", 0.3, NAN, ["部门"], "汇总"),
    ("M2", "群众", 0.6, 10, "全部", "纸质票"),
    ("M2", "企业", 0.4, 6, ["乡镇"], "电子票"),
    ("M3", "考核组", 1.0, 4, "全部", "纸质票"),
]
# how often a unit's mark is left blank (abstention): T03 rarely gets enough marks to be trimmed,
# D04 gets none in M1 (and no 汇总 votes) so its M1 value is missing
BLANK = {"T01": 0.05, "T02": 0.1, "T03": 0.55, "T04": 0.2, "D01": 0.1, "D02": 0.3, "D03": 0.05, "D04": 0.15}


def rated_units(targets) -> list[str]:
    return [u for u, g in UNITS if targets == "全部" or g in targets]


def make_data(seed: int):
    rng = random.Random(seed)
    ratings = {r["rating_code"]: r for r in RATINGS}
    marks, ballots, tallies = [], [], []
    for code, group, weight, expected, targets, collect in RATERS:
        rating = ratings[code]
        units = rated_units(targets)
        if collect == "汇总":
            for unit in units:
                for grade, points in GRADES:
                    votes = 0 if unit == "D04" else rng.randrange(0, 6)
                    tallies.append({"rating_code": code, "rater_group": group, "unit_code": unit, "votes": votes,
                                    "points": points, "top": grade == GRADES[0][0], "file": "汇总表.xlsx"})
            continue
        for number in range(1, expected + 1):
            kind = rng.random()
            row = []
            for unit in units:
                blank = 1.0 if (code == "M1" and unit == "D04") else BLANK[unit]
                if kind < 0.08 or rng.random() < blank:
                    continue  # a blank ballot, or this unit abstained
                if rating["mode"] == "grade":
                    grade, points = rng.choices(GRADES, weights=[3, 5, 2, 1])[0]
                    top = grade == GRADES[0][0]
                else:
                    mark = rng.randrange(12, 31)
                    points, top = mark * 100 / 30, mark >= 27
                row.append((unit, points, top))
            if 0.08 <= kind < 0.16 and row:  # 全部相同: the same mark on every unit
                row = [(unit, row[0][1], row[0][2]) for unit, _, _ in row]
            elif 0.16 <= kind < 0.22:  # too many top marks
                row = [(unit, 100.0, True) for unit in units]
            for unit, points, top in row:
                marks.append({"rating_code": code, "rater_group": group, "ballot": str(number), "unit_code": unit,
                              "points": points, "top": top})
            ballots.append({"rating_code": code, "rater_group": group, "ballot": str(number), "units": len(units),
                            "file": f"{code}_{group}_{number}.xlsx"})
        # two equal marks, the rest abstained: 全同无效 needs at least 3, so this ballot is valid
        number = expected + 1
        same = (100.0, True) if rating["mode"] == "grade" else (80.0, False)
        for unit in units[:2]:
            marks.append({"rating_code": code, "rater_group": group, "ballot": str(number), "unit_code": unit,
                          "points": same[0], "top": same[1]})
        ballots.append({"rating_code": code, "rater_group": group, "ballot": str(number), "units": len(units),
                        "file": f"{code}_{group}_{number}.xlsx"})
    rng.shuffle(marks)  # marks arrive file by file, not sorted by unit
    ratings_frame = pd.DataFrame(RATINGS)
    raters_frame = pd.DataFrame([{"rating_code": c, "rater_group": g, "weight": w, "expected": e, "targets": t,
                                  "collect": k} for c, g, w, e, t, k in RATERS])
    units_frame = pd.DataFrame({"unit_code": [u for u, _ in UNITS], "unit_name": [f"单位{u}" for u, _ in UNITS],
                                "group": [g for _, g in UNITS]})
    marks_frame = pd.DataFrame(marks, columns=["rating_code", "rater_group", "ballot", "unit_code", "points", "top"])
    marks_frame = marks_frame.astype({c: object for c in ("rating_code", "rater_group", "ballot", "unit_code")})
    ballots_frame = pd.DataFrame(ballots, columns=["rating_code", "rater_group", "ballot", "units", "file"])
    ballots_frame.index = ballots_frame.index * 2 + 1  # the collector passes ballots with duplicates taken out
    tallies_frame = pd.DataFrame(tallies, columns=["rating_code", "rater_group", "unit_code", "votes", "points", "top", "file"])
    return marks, ballots, tallies, marks_frame, ballots_frame, tallies_frame, ratings_frame, raters_frame, units_frame


# ------------------------------------------------------------------ the reference, by the rules
def half_up(x: float) -> Decimal:
    """四舍五入 to 2 decimals of the value a calculator shows (binary noise below 1e-8 removed first)."""
    return Decimal(repr(x)).quantize(Decimal("1e-8")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def text(x: float) -> str:
    out = f"{half_up(x):f}"
    out = out.rstrip("0").rstrip(".") if "." in out else out
    return "0" if out == "-0" else out


def reference(marks, ballots, tallies):
    ratings = {r["rating_code"]: r for r in RATINGS}
    judged = {}
    for b in ballots:
        key = (b["rating_code"], b["rater_group"], b["ballot"])
        mine = [m for m in marks if (m["rating_code"], m["rater_group"], m["ballot"]) == key]
        rule = ratings[b["rating_code"]]
        n_top = sum(1 for m in mine if m["top"])
        if not math.isnan(rule["top_limit_count"]):
            limit = rule["top_limit_count"]
        elif not math.isnan(rule["top_limit_share"]):
            limit = max(1, math.floor(b["units"] * rule["top_limit_share"] + 1e-9))
        else:
            limit = NAN
        if not mine:
            status = "blank"
        elif not math.isnan(limit) and n_top > limit:
            status = "void_top"
        elif rule["all_same_void"] and len(mine) >= 3 and len({m["points"] for m in mine}) == 1:
            status = "void_same"
        else:
            status = "valid"
        judged[key] = {"n_marks": len(mine), "n_top": n_top, "limit": float(limit), "status": status}
    valid = [m for m in marks if judged[(m["rating_code"], m["rater_group"], m["ballot"])]["status"] == "valid"]

    stats = []
    for code, group, weight, expected, targets, collect in RATERS:
        trim = ratings[code]["trim_above"]
        for unit in rated_units(targets):
            row = {"rating_code": code, "rater_group": group, "unit_code": unit, "weight": weight, "count": 0,
                   "dropped": 0, "dropped_high": NAN, "dropped_low": NAN, "mean": NAN, "top_share": NAN, "tally": False}
            if collect == "汇总":
                mine = [t for t in tallies if (t["rating_code"], t["rater_group"], t["unit_code"]) == (code, group, unit)]
                votes = sum(t["votes"] for t in mine)
                if votes:
                    row.update(count=votes, tally=True, mean=sum(t["votes"] * t["points"] for t in mine) / votes,
                               top_share=sum(t["votes"] for t in mine if t["top"]) / votes)
            else:
                points = [m["points"] for m in valid if (m["rating_code"], m["rater_group"], m["unit_code"]) == (code, group, unit)]
                tops = [m["top"] for m in valid if (m["rating_code"], m["rater_group"], m["unit_code"]) == (code, group, unit)]
                if points:
                    row.update(count=len(points), top_share=sum(tops) / len(points))
                    kept = sorted(points)
                    if not math.isnan(trim) and len(points) > trim:
                        row.update(dropped=2, dropped_high=kept[-1], dropped_low=kept[0])
                        kept = kept[1:-1]
                    row["mean"] = sum(kept) / len(kept)
            stats.append(row)

    values = []
    for code in ratings:
        units = list(dict.fromkeys(s["unit_code"] for s in stats if s["rating_code"] == code))
        for unit in units:
            rows = [s for s in stats if (s["rating_code"], s["unit_code"]) == (code, unit)]
            marked = [s for s in rows if s["count"] > 0]
            w = sum(s["weight"] for s in marked)
            value = float(half_up(sum(s["weight"] * s["mean"] for s in marked) / w)) if w > 0 else NAN
            parts = []
            for s in rows:
                if s["count"] > 0:
                    part = f"{s['rater_group']} {s['count']} 票{'（汇总）' if s['tally'] else '有效'}"
                    if s["dropped"]:
                        part += f"，去掉最高 {text(s['dropped_high'])}、最低 {text(s['dropped_low'])}"
                    part += f"，均值 {text(s['mean'])}"
                else:
                    part = f"{s['rater_group']} 无有效评价（权重不计）"
                parts.append(f"{part}，权重 {text(s['weight'] * 100)}%")
            name = ratings[code]["rating_name"]
            if w > 0:
                renorm = f"（权重按有评价的类别 {text(w * 100)}% 归一）" if abs(w - 1) > 1e-9 else ""
                sentence = f"{name}：{'；'.join(parts)}；测评值 {text(value)}{renorm}"
            else:
                sentence = f"{name}：{'；'.join(parts)}；没有任何有效评价，测评值缺失"
            values.append({"rating_code": code, "indicator_code": ratings[code]["indicator_code"], "unit_code": unit,
                           "value": value, "explanation": sentence, "groups_marked": len(marked)})

    participation = []
    for code, group, weight, expected, targets, collect in RATERS:
        mine = [j for k, j in judged.items() if k[:2] == (code, group)]
        n_valid = sum(j["status"] == "valid" for j in mine)
        participation.append({"rating_code": code, "rater_group": group, "received": len(mine), "valid": n_valid,
                              "void": sum(j["status"] in ("void_top", "void_same") for j in mine),
                              "blank": sum(j["status"] == "blank" for j in mine), "rate": n_valid / expected})
    return judged, valid, stats, values, participation


def close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


@pytest.mark.parametrize("seed", [1, 3, 5, 7, 12])  # seeds whose data cover every case below
@pytest.mark.parametrize("keys", ["object", "category"])
def test_scoring_matches_the_rules_unit_by_unit(seed, keys):
    (marks, ballots, tallies, marks_frame, ballots_frame, tallies_frame,
     ratings_frame, raters_frame, units_frame) = make_data(seed)
    if keys == "category":  # the collector may hand the keys over as categoricals
        marks_frame = marks_frame.astype({c: "category" for c in ("rating_code", "rater_group", "ballot", "unit_code")})
    ref_judged, ref_valid, ref_stats, ref_values, ref_part = reference(marks, ballots, tallies)

    # the data set covers what the rules distinguish
    statuses = {j["status"] for j in ref_judged.values()}
    assert statuses == {"valid", "blank", "void_top", "void_same"}
    counts = {s["count"] for s in ref_stats if s["rating_code"] == "M1" and not s["tally"]}
    assert 0 in counts and 3 in counts and max(counts) > 3  # none, exactly 去极值人数 (kept whole), above
    assert any(s["dropped"] for s in ref_stats if s["rating_code"] == "M2")
    assert any(s["count"] == 4 for s in ref_stats if s["rating_code"] == "M2")  # exactly 去极值人数: kept whole
    assert any(math.isnan(v["value"]) for v in ref_values)
    assert any("归一" in v["explanation"] for v in ref_values)

    judged, valid = rating_score.judge_ballots(marks_frame, ballots_frame, ratings_frame)
    assert len(judged) == len(ballots)
    for row in judged.itertuples():
        want = ref_judged[(row.rating_code, row.rater_group, row.ballot)]
        assert (row.n_marks, row.n_top, row.status) == (want["n_marks"], want["n_top"], want["status"]), row
        assert close(row.limit, want["limit"])
    assert judged["file"].tolist() == [b["file"] for b in ballots]  # the ballots keep their order
    got_valid = sorted(zip(valid["rating_code"].astype(str), valid["rater_group"].astype(str), valid["ballot"].astype(str),
                           valid["unit_code"].astype(str), valid["points"], valid["top"]))
    assert got_valid == sorted((m["rating_code"], m["rater_group"], m["ballot"], m["unit_code"], m["points"], m["top"])
                               for m in ref_valid)

    stats = rating_score.group_stats(valid, tallies_frame, ratings_frame, raters_frame, units_frame)
    assert list(stats.columns) == rating_score.STAT_COLUMNS
    # one row per rated pair, in the order of the 测评人 sheet and the unit list
    assert [(r.rating_code, r.rater_group, r.unit_code) for r in stats.itertuples()] == [
        (s["rating_code"], s["rater_group"], s["unit_code"]) for s in ref_stats]
    for row, want in zip(stats.itertuples(), ref_stats):
        assert (row.count, row.dropped, bool(row.tally)) == (want["count"], want["dropped"], want["tally"]), row
        for column in ("weight", "dropped_high", "dropped_low", "mean", "top_share"):
            assert close(float(getattr(row, column)), float(want[column])), (row, column)

    values = rating_score.unit_values(stats, ratings_frame)
    assert list(values.columns) == rating_score.VALUE_COLUMNS
    assert [(r.rating_code, r.unit_code) for r in values.itertuples()] == [(v["rating_code"], v["unit_code"]) for v in ref_values]
    for row, want in zip(values.itertuples(), ref_values):
        assert row.indicator_code == want["indicator_code"]
        assert close(row.value, want["value"]), row
        assert row.groups_marked == want["groups_marked"]
        assert row.explanation == want["explanation"]

    part = rating_score.participation(judged, raters_frame)
    for row, want in zip(part.itertuples(), ref_part):
        assert (row.rating_code, row.rater_group, row.received, row.valid, row.void, row.blank) == (
            want["rating_code"], want["rater_group"], want["received"], want["valid"], want["void"], want["blank"])
        assert close(row.rate, want["rate"])


def test_no_marks_at_all():
    """Every ballot blank: no valid marks reach group_stats; the 汇总 group alone decides."""
    *_, ballots_frame, tallies_frame, ratings_frame, raters_frame, units_frame = make_data(1)
    empty = pd.DataFrame({"rating_code": pd.Series([], dtype=object), "rater_group": pd.Series([], dtype=object),
                          "ballot": pd.Series([], dtype=object), "unit_code": pd.Series([], dtype=object),
                          "points": pd.Series([], dtype=float), "top": pd.Series([], dtype=bool)})
    judged, valid = rating_score.judge_ballots(empty, ballots_frame, ratings_frame)
    assert set(judged["status"]) == {"blank"} and (judged["n_marks"] == 0).all() and len(valid) == 0
    stats = rating_score.group_stats(valid, tallies_frame, ratings_frame, raters_frame, units_frame)
    assert set(stats.loc[stats["count"] > 0, "rater_group"]) == {"服务对象"}
    values = rating_score.unit_values(stats, ratings_frame).set_index(["rating_code", "unit_code"])
    assert values.loc[("M1", "D01"), "groups_marked"] == 1
    assert np.isnan(values.loc[("M1", "T01"), "value"]) and np.isnan(values.loc[("M1", "D04"), "value"])
