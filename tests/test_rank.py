"""Ranks, grades, the 优秀 quota, veto effects and flags."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from kaohe_excel.scoring.rank import rank_and_grade

GRADES = pd.DataFrame({"grade": ["优秀", "良好", "合格", "不合格"], "min_score": [90.0, 80.0, 60.0, 0.0]})


def totals(values: list[float], group: str = "乡镇", prefix: str = "U", vetoed: list[str] | None = None,
           indicator_totals: list[float] | None = None) -> pd.DataFrame:
    codes = [f"{prefix}{i:02d}" for i in range(len(values))]
    vetoed = vetoed or []
    return pd.DataFrame({
        "unit_code": codes, "unit_name": codes, "group": group,
        "indicator_total": indicator_totals or values, "points_available": 100.0, "bonus": 0.0, "deduction": 0.0,
        "vetoed": [c in vetoed for c in codes], "veto_items": ["安全事故" if c in vetoed else "" for c in codes],
        "total": [float(v) for v in values],
    })


def grade(frame: pd.DataFrame, quota: float = 1.0, veto: str = "no_excellent", rectify: float | None = None):
    return rank_and_grade(frame, GRADES, quota, veto, rectify).set_index("unit_code")


def test_competition_rank_and_group_size():
    out = grade(totals([95, 93, 93, 91]))
    assert out["rank"].tolist() == [1, 2, 2, 4]
    assert out["group_size"].tolist() == [4, 4, 4, 4]


def test_display_order_tie_break():
    # U01 and U02 tie on 93: the higher indicator_total (92 > 90) comes first;
    # U03 and U04 tie on both: unit_code ascending
    frame = totals([95, 93, 93, 80, 80], indicator_totals=[95, 90, 92, 80, 80])
    out = grade(frame)
    assert out["order"].to_dict() == {"U00": 1, "U02": 2, "U01": 3, "U03": 4, "U04": 5}
    assert out.loc["U01", "rank"] == out.loc["U02", "rank"] == 2
    assert list(out.index) == ["U00", "U02", "U01", "U03", "U04"]  # rows come back in display order


def test_grade_thresholds():
    out = grade(totals([90, 89.99, 80, 60, 59.99, -3]))
    assert out["grade"].tolist() == ["优秀", "良好", "良好", "合格", "不合格", "不合格"]
    assert out["grade_note"].tolist() == [""] * 6


def test_quota_ten_units_twenty_percent():
    # floor(10 × 0.2) = 2 of the 6 units at or above 90
    out = grade(totals([99, 98, 97, 96, 95, 91, 85, 70, 65, 50]), quota=0.2)
    assert out["grade"].tolist()[:7] == ["优秀", "优秀", "良好", "良好", "良好", "良好", "良好"]
    assert out.loc["U02", "grade_note"] == "达到优秀分数线，受优秀比例限制（本类别优秀名额2个）"
    assert out.loc["U06", "grade_note"] == ""


def test_quota_ties_at_edge_are_all_demoted():
    # quota floor(10 × 0.2) = 2; 98 and 98 share positions 2–3 → both demoted, only 1 优秀
    out = grade(totals([99, 98, 98, 85, 80, 75, 70, 65, 60, 55]), quota=0.2)
    assert out.loc[["U00", "U01", "U02"], "grade"].tolist() == ["优秀", "良好", "良好"]
    # a tie inside the quota is fine: 99, 99 share positions 1–2
    out = grade(totals([99, 99, 98, 85, 80, 75, 70, 65, 60, 55]), quota=0.2)
    assert out.loc[["U00", "U01", "U02"], "grade"].tolist() == ["优秀", "优秀", "良好"]


def test_quota_float_noise():
    # 50 × 0.58 = 28.999999999999996 in binary; the quota is 29
    out = grade(totals([95.0 + i / 100 for i in range(50)]), quota=0.58)
    assert (out["grade"] == "优秀").sum() == 29


def test_quota_zero_and_small_groups():
    assert (grade(totals([95, 94]), quota=0.2)["grade"] == "良好").all()  # floor(0.4) = 0
    out = grade(totals([95, 94, 93, 92, 91]), quota=0.2)  # floor(1.0) = 1
    assert out["grade"].tolist() == ["优秀", "良好", "良好", "良好", "良好"]


def test_quota_is_per_group():
    frame = pd.concat([totals([95, 94, 93, 92, 91]), totals([99, 50], group="部门", prefix="D")], ignore_index=True)
    out = grade(frame, quota=0.5)
    # 乡镇: floor(2.5) = 2; 部门: floor(1) = 1
    assert out.loc[["U00", "U01", "U02"], "grade"].tolist() == ["优秀", "优秀", "良好"]
    assert out.loc["D00", ["rank", "grade", "group_size"]].tolist() == [1, "优秀", 2]
    assert out.loc["D01", "rank"] == 2


def test_veto_no_excellent_frees_the_slot():
    # U00 vetoed at 99: 良好; quota floor(5 × 0.4) = 2 goes to 98 and 97
    out = grade(totals([99, 98, 97, 96, 70], vetoed=["U00"]), quota=0.4)
    assert out["grade"].tolist() == ["良好", "优秀", "优秀", "良好", "合格"]
    assert out.loc["U00", "grade_note"] == "一票否决：取消评优"
    assert out.loc["U00", "rank"] == 1  # the rank itself is not changed


def test_veto_no_excellent_keeps_a_lower_grade():
    out = grade(totals([95, 70], vetoed=["U01"]))
    assert out.loc["U01", "grade"] == "合格"


def test_veto_fail():
    out = grade(totals([99, 98, 70], vetoed=["U00"]), veto="fail")
    assert out.loc["U00", ["grade", "grade_note"]].tolist() == ["不合格", "一票否决：定为不合格"]


def test_veto_zero_cannot_be_top_even_if_zero_reaches_it():
    grades = pd.DataFrame({"grade": ["优秀", "合格"], "min_score": [0.0, -10.0]})  # odd scheme: 0 reaches 优秀
    frame = totals([0, 50], vetoed=["U00"])
    out = rank_and_grade(frame, grades, 1.0, "zero").set_index("unit_code")
    assert out.loc["U00", ["grade", "grade_note"]].tolist() == ["合格", "一票否决：总分清零"]
    assert out.loc["U01", "grade"] == "优秀"


def test_flags():
    out = grade(totals([95, 88, 84, 84], vetoed=["U00"]), rectify=85)
    assert out.loc["U00", "flags"] == ["一票否决（安全事故）"]
    assert out.loc["U01", "flags"] == []
    # tied last and below 85: the combined flag
    assert out.loc["U02", "flags"] == ["末位且低于85分，须作出整改承诺"]
    assert out.loc["U03", "flags"] == ["末位且低于85分，须作出整改承诺"]


def test_flags_last_without_threshold():
    out = grade(totals([95, 90, 80]))
    assert out["flags"].tolist() == [[], [], ["末位"]]
    assert grade(totals([95]))["flags"].tolist() == [[]]          # a group of one has no 末位
    assert grade(totals([90, 90]))["flags"].tolist() == [[], []]  # all tied: nobody is last


def test_below_without_last():
    out = grade(totals([84, 95, 70]), rectify=85)
    assert out.loc["U00", "flags"] == ["低于85分"]
    assert out.loc["U02", "flags"] == ["末位且低于85分，须作出整改承诺"]


def test_scheme_like_object():
    scheme = SimpleNamespace(grades=GRADES, meta=SimpleNamespace(excellent_quota=0.2, veto_effect="fail",
                                                                 rectify_below=None))
    out = rank_and_grade(totals([99, 98, 97, 96, 95]), scheme).set_index("unit_code")
    assert out["grade"].tolist() == ["优秀", "良好", "良好", "良好", "良好"]  # floor(5 × 0.2) = 1
