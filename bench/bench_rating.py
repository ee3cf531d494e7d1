"""测评 at city scale: 2,000 raters × 300 units = 600,000 marks, scored without reading files.

Measures what 测评 adds to a run once the ballots are read: collecting every mark
(`RatingCollector.mark`, called while validating), then `finish`: parsing every mark, judging
ballots (void/blank), per group × unit trimmed means and the weighted value per unit. The floor is
python-calamine reading the same 600,000 marks from three 测评录入 workbooks (one per rater group,
written once into bench/data/rating/), as `bench/run.py`'s floor reads the unit files.
Best of --repeat rounds (default 3).
Run: PYTHONPATH=. python3 bench/bench_rating.py
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from kaohe_excel.scoring import rating_score
from kaohe_excel.inputs.rating_validate import RatingCollector

GRADES = [("优秀", 100.0), ("称职", 80.0), ("基本称职", 60.0), ("不称职", 0.0)]
DATA = Path(__file__).resolve().parent / "data" / "rating"
SCORING = ["judge_ballots", "group_stats", "unit_values", "participation"]


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


def _ballots(raters: int, units: int):
    """The marks as the office types them: per group, one row per paper ballot, one column per unit."""
    groups = {"县领导": (0.2, 200), "干部职工": (0.5, 1200), "服务对象": (0.3, raters - 1400)}
    rng = np.random.default_rng(15)
    names = np.array([g for g, _ in GRADES] + [""], dtype=object)
    marks = {group: names[rng.choice(len(names), size=(n, units), p=[0.25, 0.5, 0.15, 0.05, 0.05])]
             for group, (_, n) in groups.items()}
    return groups, marks


def _collect(scheme, groups, marks):
    """A collector holding every mark, as validate leaves it; and the seconds the mark calls took."""
    collector = RatingCollector(scheme, lambda issue: None)
    codes = scheme.units["unit_code"].tolist()
    mark = collector.mark
    elapsed = 0.0
    for group, table in marks.items():
        key = ("M1", group)
        for ballot, row in enumerate(table.tolist()):
            number = str(ballot + 1)
            start = time.perf_counter()
            for u, raw in enumerate(row):
                mark(key, number, codes[u], raw, "录入表.xlsx", "测评录入", ballot + 3, u + 1)
            elapsed += time.perf_counter() - start
            collector.ballots.append({"rating_code": "M1", "rater_group": group, "ballot": number, "units": len(row),
                                      "file": f"录入表.xlsx 第{ballot + 4}行"})
    return collector, elapsed


def _entry_files(scheme, marks, raters: int, units: int) -> list[Path]:
    """The three 测评录入 workbooks holding the marks (written once, reused)."""
    import xlsxwriter

    folder = DATA / f"r{raters}_u{units}"
    paths = [folder / f"测评录入表_M1_{group}.xlsx" for group in marks]
    if all(p.exists() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    codes = scheme.units["unit_code"].tolist()
    for path, (group, table) in zip(paths, marks.items()):
        book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = book.add_worksheet("测评录入")
        sheet.write_row(0, 0, ["票号"] + codes)
        for r, row in enumerate(table.tolist(), start=1):
            sheet.write_number(r, 0, r)
            for c, raw in enumerate(row, start=1):
                if raw:
                    sheet.write_string(r, c, raw)
        book.close()
    return paths


def _read_floor(paths: list[Path]) -> float:
    from python_calamine import CalamineWorkbook

    start = time.perf_counter()
    for path in paths:
        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        book.close()
    return time.perf_counter() - start


@contextmanager
def _timed(spent: dict[str, float]):
    """Adds the time spent in each scoring function of rating_score to `spent`."""
    originals = {name: getattr(rating_score, name) for name in SCORING}

    def wrap(name, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
        return timed

    for name, function in originals.items():
        setattr(rating_score, name, wrap(name, function))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(rating_score, name, function)


def measure(raters: int = 2000, units: int = 300, repeat: int = 3) -> dict:
    groups, marks = _ballots(raters, units)
    scheme = _Scheme(units, {g: (w, n) for g, (w, n) in groups.items()})
    paths = _entry_files(scheme, marks, raters, units)
    best = {}
    for _ in range(repeat):
        collector, collect = _collect(scheme, groups, marks)
        floor = _read_floor(paths)
        start = time.perf_counter()
        collector.parsed_marks()
        parse = time.perf_counter() - start
        spent: dict[str, float] = {}
        with _timed(spent):
            start = time.perf_counter()
            outcome, rows = collector.finish()
            finish = time.perf_counter() - start
        round_ = {"floor": floor, "collect": collect, "finish": finish, "parse": parse,
                  "scoring": sum(spent.values()), **spent}
        best = {k: min(v, best.get(k, v)) for k, v in round_.items()}  # each figure's fastest round
        del collector
    best.update(marks=int(sum(t.size for t in marks.values())), values=len(rows),
                left_out=int((outcome.ballots["status"] != "valid").sum()), raters=raters, units=units)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=2000)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON line (for bench/run.py --all-targets)")
    args = parser.parse_args()
    r = measure(args.raters, args.units, args.repeat)
    floor = r["floor"]
    added = r["collect"] + r["finish"]
    if args.json:
        print(json.dumps({**r, "added": added}))
        return
    print(f"{r['marks']:,} marks ({r['raters']} raters × {r['units']} units), best of {args.repeat}: "
          f"{r['values']} unit values, {r['left_out']} ballots left out")
    print(f"floor (python-calamine reads the 3 录入 workbooks): {floor:.2f} s = 1.0×")
    print(f"finish (parse, judge, score):  {r['finish']:.2f} s = {r['finish'] / floor:.2f}× floor")
    print(f"  parse marks (parsed_marks):  {r['parse']:.2f} s")
    print(f"  scoring (rating_score):      {r['scoring']:.2f} s  "
          + ", ".join(f"{name} {r[name]:.3f}" for name in SCORING))
    print(f"collect (mark calls in validate): {r['collect']:.2f} s = {r['collect'] / floor:.2f}× floor")
    print(f"added to a run by 测评 (collect + finish): {added:.2f} s = {added / floor:.2f}× floor")


if __name__ == "__main__":
    main()
