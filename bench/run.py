"""Benchmark: the read floor, the pandas default, `kaohe check`, `kaohe run` and each stage.

    python3 bench/run.py                      # scales 300,2000
    python3 bench/run.py --scales 300,2000,10000

Inputs come from bench/generate.py (cached under bench/data/). Every measurement runs in a
fresh subprocess, so its peak RSS (ru_maxrss) is the honest figure for that job alone;
a stage's subprocess first loads its inputs from a pickle written by the previous stage
(untimed, but counted in its memory: a stage needs its inputs). Results: a markdown table
on stdout, bench/results/latest.json and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

RESULTS = BENCH / "results"
ROWS_1M = 1_000_000
STAGES = ["read", "validate", "score", "rank", "summary", "notice", "feedback", "archive"]
ISSUED_ON = date(2025, 1, 15)


# ---------------------------------------------------------------- in the measuring subprocess

def _rss_now_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load(path: Path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


_PENDING: list[tuple[object, Path]] = []


def _dump(obj, path: Path) -> None:
    """Queue a stage's output for the next stage; written after the clock stops."""
    _PENDING.append((obj, path))


def _flush() -> None:
    for obj, path in _PENDING:
        with open(path, "wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
    _PENDING.clear()


def _inbox_files(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.rglob("*.xlsx") if not p.name.startswith("~$"))


def _task_floor(work: Path, inbox: Path, scheme_path: Path):
    from python_calamine import CalamineWorkbook

    files = _inbox_files(inbox)

    def job():
        cells = 0
        for path in files:
            book = CalamineWorkbook.from_path(str(path))
            for name in book.sheet_names:
                rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
                cells += sum(len(r) for r in rows)
            book.close()
        return {"files": len(files), "cells": cells}
    return job


def _task_baseline(work: Path, inbox: Path, scheme_path: Path):
    import pandas as pd

    files = _inbox_files(inbox)

    def job():
        rows = 0
        for path in files:
            frames = pd.read_excel(path, sheet_name=None, engine="openpyxl", header=None)
            rows += sum(len(f) for f in frames.values())
        return {"files": len(files), "rows": rows}
    return job


def _task_check(work: Path, inbox: Path, scheme_path: Path):
    from kaohe_excel.jobs import pipeline

    out = work / "out_check"
    shutil.rmtree(out, ignore_errors=True)

    def job():
        outcome = pipeline.check(inbox, scheme_path, out / "校验问题.xlsx", out_root=out)
        return {"errors": outcome.validated.error_count, "warnings": outcome.validated.warning_count}
    return job


def _task_run(work: Path, inbox: Path, scheme_path: Path):
    from kaohe_excel.jobs import pipeline

    out = work / "out_run"
    shutil.rmtree(out, ignore_errors=True)

    def job():
        outcome = pipeline.run(inbox, scheme_path, out_root=out, issued_on=ISSUED_ON, template_dir=ROOT / "templates")
        return {"files_written": len(outcome.files)}
    return job


def _task_stage(stage: str):
    def factory(work: Path, inbox: Path, scheme_path: Path):
        from kaohe_excel.storage import archive
        from kaohe_excel.analysis import gap
        from kaohe_excel.outputs import notice
        from kaohe_excel.jobs import pipeline
        from kaohe_excel.scoring import rank
        from kaohe_excel.inputs import read
        from kaohe_excel.outputs import report
        from kaohe_excel.scoring import score
        from kaohe_excel.inputs import validate
        from kaohe_excel.scheme.workbook import load_scheme

        scheme = load_scheme(scheme_path)
        state = work / "state"
        state.mkdir(exist_ok=True)
        out = work / "out_stages"
        if stage == "read":
            return lambda: _dump(read.read_inbox(inbox), state / "read.pkl")
        if stage == "validate":
            read_result = _load(state / "read.pkl")

            def job():
                validated = validate.validate(scheme, read_result)
                _dump(validated, state / "validated.pkl")
                return {"errors": validated.error_count}
            return job
        if stage == "score":
            validated = _load(state / "validated.pkl")

            def job():
                # pipeline.score_period without the ranking, which is timed on its own
                values = validated.values.drop_duplicates(["unit_code", "indicator_code"])
                frame = scheme.assignments().merge(
                    values[["unit_code", "indicator_code", "value", "text_value", "unscored"]],
                    on=["unit_code", "indicator_code"], how="left")
                frame["unscored"] = frame["unscored"].astype(object).where(frame["unscored"].notna(), True).astype(bool) & ~frame["exempt"]
                scored = score.score_indicators(frame, scheme.tier_tables)
                adjustments = score.score_adjustments(validated.claims, scheme.adjustments)
                totals = score.compute_totals(scored, adjustments, scheme)
                _dump((validated, scored, adjustments, totals), state / "scored.pkl")
                return {"rows": len(scored)}
            return job
        if stage == "rank":
            validated, scored, adjustments, totals = _load(state / "scored.pkl")

            def job():
                ranked = rank.rank_and_grade(totals, scheme)
                _dump(pipeline.Results(scheme, validated, scored, adjustments, ranked), state / "results.pkl")
                return {"units": len(ranked)}
            return job
        results = _load(state / "results.pkl")
        results.scheme = scheme
        out.mkdir(parents=True, exist_ok=True)
        if stage == "summary":
            return lambda: report.write_summary(
                out / archive.SUMMARY_NAME, scheme.meta, scheme.grades, results.scored, results.ranked,
                results.adjustments, results.validated.values, results.validated.issues_table,
                results.validated.missing_units) and None
        if stage == "notice":
            template = ROOT / "templates" / "通报.docx"
            return lambda: notice.write_notice(out / archive.NOTICE_NAME, template if template.is_file() else None,
                                               scheme.meta, results.ranked, scheme.grades, ISSUED_ON) and None
        if stage == "feedback":
            shutil.rmtree(out / archive.FEEDBACK_DIR, ignore_errors=True)

            def job():
                # as archive_period does it: with the 差距分析 sheet, whose table is computed here
                gaps = gap.gap_table(results.scored, scheme.tier_tables, scheme)
                paths = report.write_all_feedback(out / archive.FEEDBACK_DIR, scheme.meta, results.scored, results.ranked,
                                                  gap=gaps)
                return {"workbooks": len(paths)}
            return job
        if stage == "archive":
            shutil.rmtree(out / "archive", ignore_errors=True)
            # archive_period with the three big writers stubbed out (they are timed above): what is left
            # is csv, parquet, byte copies of the inputs, the scheme copy, the manifest, the swap
            report.write_summary = lambda *a, **k: None
            # what the run writes meanwhile (csv files) stays in this stage
            report.write_all_feedback = lambda *a, meanwhile=None, **k: (meanwhile and meanwhile()) or []
            notice.write_notice = lambda *a, **k: None

            def job():
                folder, files = pipeline.archive_period(results, out / "archive", issued_on=ISSUED_ON,
                                                        template_dir=ROOT / "templates")
                return {"files_written": len(files)}
            return job
        raise ValueError(stage)
    return factory


def _task_score_1m(work: Path, inbox: Path, scheme_path: Path):
    """score_indicators + adjustments + totals + rank_and_grade on >= 1,000,000 unit x indicator rows."""
    import numpy as np
    import pandas as pd

    from kaohe_excel.scoring import rank
    from kaohe_excel.scoring import score
    from kaohe_excel.scheme.workbook import load_scheme

    scheme = load_scheme(scheme_path)
    validated = _load(work / "state" / "validated.pkl")
    values = validated.values.drop_duplicates(["unit_code", "indicator_code"])
    base = scheme.assignments().merge(values[["unit_code", "indicator_code", "value", "text_value", "unscored"]],
                                      on=["unit_code", "indicator_code"], how="left")
    base["unscored"] = base["unscored"].astype(object).where(base["unscored"].notna(), True).astype(bool) & ~base["exempt"]
    reps = -(-ROWS_1M // len(base))
    frame = pd.concat([base.assign(unit_code=base["unit_code"] + f"-{i}") for i in range(reps)], ignore_index=True)
    units = pd.concat([scheme.units.assign(unit_code=scheme.units["unit_code"] + f"-{i}") for i in range(reps)],
                      ignore_index=True)
    claims = pd.concat([validated.claims.assign(unit_code=validated.claims["unit_code"] + f"-{i}") for i in range(reps)],
                       ignore_index=True)

    def job():
        t0 = time.perf_counter()
        scored = score.score_indicators(frame, scheme.tier_tables)
        t1 = time.perf_counter()
        adjustments = score.score_adjustments(claims, scheme.adjustments)
        totals = score.compute_totals(scored, adjustments, units, scheme.meta, scheme.weights)
        t2 = time.perf_counter()
        ranked = rank.rank_and_grade(totals, scheme)
        t3 = time.perf_counter()
        return {"rows": len(scored), "units": len(ranked), "score_indicators_s": round(t1 - t0, 3),
                "totals_s": round(t2 - t1, 3), "rank_s": round(t3 - t2, 3), "checksum": float(np.nansum(scored["score"]))}
    return job


TASKS = {"floor": _task_floor, "baseline": _task_baseline, "check": _task_check, "run": _task_run,
         "score_1m": _task_score_1m, **{f"stage_{s}": _task_stage(s) for s in STAGES}}


def measure_here(task: str, work: Path) -> dict:
    inbox, scheme_path = work / "inbox", work / "scheme.xlsx"
    job = TASKS[task](work, inbox, scheme_path)
    rss_before = _rss_now_mb()
    started = time.perf_counter()
    cpu_started = time.process_time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_children_before = before.ru_utime + before.ru_stime
    info = job() or {}
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = children.ru_maxrss / 1024
    _flush()
    cpu_children = children.ru_utime + children.ru_stime - cpu_children_before
    return {"task": task, "wall_s": round(wall, 3), "cpu_s": round(cpu + cpu_children, 3), "rss_before_mb": round(rss_before, 1),
            "peak_rss_mb": round(self_peak, 1), "peak_rss_worker_mb": round(child_peak, 1), **info}


# ---------------------------------------------------------------- in the runner

def measure(task: str, work: Path) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--task", task, "--work", str(work)],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {task:<16} {result['wall_s']:>8.2f} s  peak {result['peak_rss_mb']:>7.0f} MB"
          f"  (worker {result['peak_rss_worker_mb']:.0f} MB)", file=sys.stderr, flush=True)
    return result


def run_scale(units: int, skip_baseline: bool, repeat: int = 1, shape: str = "bench", stages: bool = True,
              tasks: list[str] | None = None) -> dict:
    """Every job on one scale's files; with repeat > 1, in rounds (a noisy minute then hits every job
    alike), keeping each job's fastest wall time and its largest peak memory. The baseline runs once."""
    from generate import generate

    work = generate(units, shape=shape)
    n_files = len(_inbox_files(work / "inbox"))
    print(f"scale {units} units, {shape} shape ({n_files} files)", file=sys.stderr, flush=True)
    tasks = tasks or (["floor"] + ([] if skip_baseline else ["baseline"]) + ["check", "run"]
                      + ([f"stage_{s}" for s in STAGES] if stages else []))
    if units == 2000 and shape == "bench" and stages:  # score_1m starts from the validate stage's pickle
        tasks.append("score_1m")
    runs: dict[str, list[dict]] = {task: [] for task in tasks}
    for round_ in range(max(1, repeat)):
        for task in tasks:
            if task != "baseline" or round_ == 0:
                runs[task].append(measure(task, work))
    results = {}
    for task, got in runs.items():
        best = dict(min(got, key=lambda r: r["wall_s"]))
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in got)
        best["peak_rss_worker_mb"] = max(r["peak_rss_worker_mb"] for r in got)
        best["walls_s"] = [r["wall_s"] for r in got]
        results[task] = best
    return {"units": units, "shape": shape, "files": n_files, "repeat": max(1, repeat), "results": results}


SHAPES = {"bench": "bench shape (60 indicators per file)", "county": "county shape (17 indicators per file)"}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "—"


def render(report: dict) -> str:
    lines = [f"# kaohe-excel benchmark ({report['date']})", "",
             f"Machine: {report['machine']}, nproc={report['nproc']}, Python {report['python']}, pandas {report['pandas']}. "
             "Wall time per job; cpu = user+sys of the job's process and its pool workers (steadier on a busy machine); peak = ru_maxrss of the job's own fresh process (main), worker = largest pool worker.", ""]
    for scale in report["scales"]:
        res = scale["results"]
        floor = res["floor"]["wall_s"]
        n = scale["files"]
        rounds = scale.get("repeat", 1)
        shape = SHAPES[scale.get("shape", "bench")]
        lines += [f"## {scale['units']} units, {shape} ({n} files)" + (f", best of {rounds} rounds" if rounds > 1 else ""), "",
                  "| job | wall s | ms / file | × floor | cpu s | cpu × floor | peak MB (main) | peak MB (worker) | notes |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for task, r in res.items():
            if task == "score_1m":
                continue
            notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in {
                "task", "wall_s", "cpu_s", "rss_before_mb", "peak_rss_mb", "peak_rss_worker_mb"})
            label = {"floor": "floor: python-calamine, all sheets → lists, 1 process",
                     "baseline": "baseline: pandas.read_excel(engine=\"openpyxl\"), all sheets",
                     "check": "`kaohe check` (pipeline.check)", "run": "`kaohe run` (pipeline.run)"}.get(
                task, "stage " + task.removeprefix("stage_"))
            lines.append(f"| {label} | {r['wall_s']:.2f} | {1000 * r['wall_s'] / n:.2f} | {_ratio(r['wall_s'], floor)} | "
                         f"{r['cpu_s']:.2f} | {_ratio(r['cpu_s'], res['floor']['cpu_s'])} | "
                         f"{r['peak_rss_mb']:.0f} | {r['peak_rss_worker_mb']:.0f} | {notes} |")
        lines.append("")
        if "score_1m" in res:
            r = res["score_1m"]
            lines += [f"Scoring + ranking of {r['rows']:,} unit × indicator rows ({r['units']:,} units): "
                      f"{r['wall_s']:.2f} s (score_indicators {r['score_indicators_s']} s, adjustments + totals "
                      f"{r['totals_s']} s, rank_and_grade {r['rank_s']} s), peak {r['peak_rss_mb']:.0f} MB.", ""]
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for row in targets(report):
        lines.append(f"| {row[0]} | {row[1]} | {'yes' if row[2] else '**no**'} |")
    return "\n".join(lines) + "\n"


def targets(report: dict) -> list[tuple[str, str, bool]]:
    by_units = {s["units"]: s["results"] for s in report["scales"] if s.get("shape", "bench") == "bench"}
    out = []
    for scale in report["scales"]:
        if scale["units"] != 2000:
            continue
        r, name = scale["results"], f"2,000 units, {SHAPES[scale.get('shape', 'bench')]}"
        floor = r["floor"]["wall_s"]
        out.append((f"{name}: check ≤ 2× floor", f"{r['check']['wall_s'] / floor:.2f}×", r["check"]["wall_s"] <= 2 * floor))
        if "baseline" in r:
            speed = r["baseline"]["wall_s"] / r["check"]["wall_s"]
            out.append((f"{name}: check ≥ 8× faster than pandas default", f"{speed:.1f}×", speed >= 8))
        out.append((f"{name}: run ≤ 12× floor", f"{r['run']['wall_s'] / floor:.2f}×", r["run"]["wall_s"] <= 12 * floor))
        if "score_1m" in r:
            out.append(("scoring + ranking 1,000,000 rows < 1 s", f"{r['score_1m']['wall_s']:.2f} s", r["score_1m"]["wall_s"] < 1))
    if 10000 in by_units:
        peak = max(max(v["peak_rss_mb"], v["peak_rss_worker_mb"]) for k, v in by_units[10000].items() if k not in ("baseline",))
        out.append(("10,000 units: peak memory < 1.5 GB (largest single process, any kaohe job)", f"{peak:.0f} MB", peak < 1536))
    if 30000 in by_units and "run" in by_units[30000]:
        r = by_units[30000]["run"]
        out.append(("30,000 units: run completes (wall, peak main / worker)",
                    f"{r['wall_s']:.0f} s, {r['peak_rss_mb']:.0f} / {r['peak_rss_worker_mb']:.0f} MB", True))
    if "startup_s" in report:
        out.append(("`kaohe --version` < 0.3 s", f"{report['startup_s']:.3f} s", report["startup_s"] < 0.3))
    if "rating" in report:
        added = report["rating"]["added"]
        out.append(("600,000 测评 marks add < 1 s to a run", f"{added:.2f} s ({added / report['rating']['floor']:.2f}× their read floor)",
                    added < 1))
    if 300 in by_units and 10000 in by_units:
        for task in ("check", "run"):
            per_300 = by_units[300][task]["wall_s"] / 300
            per_10k = by_units[10000][task]["wall_s"] / 10000
            out.append((f"{task}: 300 → 10,000 linear (time per unit ratio ≤ 1.2)", f"{per_10k / per_300:.2f}",
                        per_10k / per_300 <= 1.2))
    return out


def _startup_s(rounds: int = 5) -> float:
    """`kaohe --version` in a fresh process, best of `rounds` (the console script itself, not a shell shim)."""
    script = Path(sys.executable).with_name("kaohe")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kaohe_excel"]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command + ["--version"], cwd=ROOT, capture_output=True, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def _rating_600k() -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("bench_rating.py")), "--json"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"bench_rating failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def all_targets(report: dict) -> None:
    """Every target of issue 17 measured in one sequence: 2,000 units on both shapes (with the pandas
    baseline), start-up, 600,000 测评 marks, and `run` at 10,000 and 30,000 units."""
    for shape in ("county", "bench"):
        report["scales"].append(run_scale(2000, False, 1, shape, False))
    report["startup_s"] = round(_startup_s(), 3)
    print(f"  kaohe --version   {report['startup_s']:.3f} s", file=sys.stderr, flush=True)
    report["rating"] = _rating_600k()
    print(f"  600k marks added  {report['rating']['added']:.2f} s", file=sys.stderr, flush=True)
    for units in (10000, 30000):
        report["scales"].append(run_scale(units, True, 1, "bench", False, tasks=["floor", "run"]))


def main() -> None:
    parser = argparse.ArgumentParser(description="kaohe-excel benchmark")
    parser.add_argument("--scales", default="300,2000")
    parser.add_argument("--skip-baseline", action="store_true", help="leave out the slow pandas/openpyxl baseline")
    parser.add_argument("--output", default="latest", help="results/<output>.json and .md")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per scale; each job's fastest wall time is kept")
    parser.add_argument("--shapes", default="bench",
                        help="bench (60 indicators per file), county (17, small files, a real county's shape), or both: bench,county")
    parser.add_argument("--no-stages", action="store_true", help="only floor, baseline, check and run")
    parser.add_argument("--all-targets", action="store_true",
                        help="every issue-17 target in one sequence (2,000 both shapes with baseline, start-up, "
                             "600,000 marks, run at 10,000 and 30,000); takes about 30 minutes")
    parser.add_argument("--task")
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.task:
        print(json.dumps(measure_here(args.task, Path(args.work))))
        return
    import pandas as pd

    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "nproc": os.cpu_count(), "python": platform.python_version(),
              "pandas": pd.__version__, "machine": f"{platform.system()} {platform.machine()}", "scales": []}
    if args.all_targets:
        all_targets(report)
    else:
        for shape in [s for s in args.shapes.split(",") if s]:
            for units in [int(s) for s in args.scales.split(",") if s]:
                report["scales"].append(run_scale(units, args.skip_baseline, args.repeat, shape, not args.no_stages))
    report["targets"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in targets(report)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    text = render(report)
    (RESULTS / f"{args.output}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
