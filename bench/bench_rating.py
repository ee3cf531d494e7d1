"""测评 at city scale: 2,000 raters × 300 units = 600,000 marks, scored without reading files.

Measures what 测评 adds to a run once the ballots are read: parsing every mark, judging
ballots (void/blank), per group × unit trimmed means and the weighted value per unit.
Run: PYTHONPATH=. python3 bench/bench_rating.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from kaohe_excel.rating_validate import RatingCollector

GRADES = [("优秀", 100.0), ("称职", 80.0), ("基本称职", 60.0), ("不称职", 0.0)]


class _Scheme:
    def __init__(self, n_units: int, groups: dict[str, int]):
        self.units = pd.DataFrame({"unit_code": [f"U{i:03d}" for i in range(n_units)], "unit_name": [f"单位{i}" for i in range(n_units)],
                                   "group": ["乡镇" if i % 2 else "部门" for i in range(n_units)]})
        self.ratings = pd.DataFrame([{"rating_code": "M1", "rating_name": "民主测评", "indicator_code": "R1", "mode": "grade",
                                      "grades": GRADES, "full": 100.0, "trim_above": 5.0, "top_limit_count": np.nan,
                                      "top_limit_share": 0.3, "all_same_void": True, "min_participation": 0.8}])
        self.raters = pd.DataFrame([{"rating_code": "M1", "rater_group": g, "weight": w, "expected": n, "targets": "全部",
                                     "collect": "纸质票"} for g, (w, n) in groups.items()])

    def unit_names(self):
        return dict(zip(self.units["unit_code"], self.units["unit_name"]))

    def assignments(self):
        return pd.DataFrame({"unit_code": self.units["unit_code"], "indicator_code": "R1", "exempt": False})


def main(raters: int = 2000, units: int = 300) -> None:
    groups = {"县领导": (0.2, 200), "干部职工": (0.5, 1200), "服务对象": (0.3, raters - 1400)}
    scheme = _Scheme(units, groups)
    rng = np.random.default_rng(15)
    collector = RatingCollector(scheme, lambda issue: None)
    names = np.array([g for g, _ in GRADES] + [""], dtype=object)
    codes = scheme.units["unit_code"].tolist()
    for group, (_, n) in groups.items():
        picks = rng.choice(len(names), size=(n, units), p=[0.25, 0.5, 0.15, 0.05, 0.05])
        for ballot in range(n):
            for u in range(units):
                collector.mark(("M1", group), str(ballot + 1), codes[u], names[picks[ballot, u]], "录入表.xlsx", "测评录入", ballot + 3, u + 1)
            collector.ballots.append({"rating_code": "M1", "rater_group": group, "ballot": str(ballot + 1), "units": units,
                                      "file": f"录入表.xlsx 第{ballot + 4}行"})
    n_marks = len(collector.m_raw)
    start = time.perf_counter()
    outcome, rows = collector.finish()
    elapsed = time.perf_counter() - start
    print(f"{n_marks:,} marks ({raters} raters × {units} units): parsed, judged and scored in {elapsed:.2f} s; "
          f"{len(rows)} unit values, {int((outcome.ballots['status'] != 'valid').sum())} ballots left out")


if __name__ == "__main__":
    main()
