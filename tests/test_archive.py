"""Period archive: manifest, atomic writes under a lock, crash recovery, sealing, verify, history, 纵向."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from conftest import FILES, make_inbox, small_scheme_sheets, write_workbook
from inbox_helpers import fill_unit
from kaohe_excel.storage import archive
from kaohe_excel.outputs import period_outputs
from kaohe_excel.jobs import pipeline
from kaohe_excel.base.errors import ArchiveMismatch, InboxChanged, OutputsLocked, PeriodNotFound, PeriodSealed
from kaohe_excel.scheme.workbook import load_scheme

ISSUED = date(2025, 1, 15)
KILL_STAGES = ["locked", "staging", "outputs", "manifest", "swap"]

# 2023: chosen so that every score is easy to compute by hand (see test_two_periods...).
VALUES_2023 = {
    "T01": {"A1": 90, "A2": 10, "C2": 0.5},
    "T02": {"A1": 60, "A2": 8, "C2": 0.5},
    "D01": {"C2": 1.0},
}
ASSESSED_2023 = {
    ("T01", "B1"): 81, ("T02", "B1"): 90, ("D01", "B1"): 45, ("D02", "B1"): 90,
    ("T01", "C1"): "良", ("T02", "C1"): "优", ("D01", "C1"): "差", ("D02", "C1"): "良",
}


def _scheme_sheets(year: str) -> dict[str, pd.DataFrame]:
    sheets = small_scheme_sheets()
    meta = sheets["方案"].copy()
    meta.loc[meta["项目"] == "考核周期", "值"] = year
    meta.loc[meta["项目"] == "考核名称", "值"] = f"测试县{year}年度考核"
    sheets["方案"] = meta
    return sheets


def _period(base: Path, year: str, **inbox_kwargs):
    base.mkdir(parents=True, exist_ok=True)
    scheme_path = write_workbook(base / f"scheme{year}.xlsx", _scheme_sheets(year))
    scheme = load_scheme(scheme_path)
    inbox = make_inbox(base / f"inbox{year}", scheme, **inbox_kwargs)
    results = pipeline.score_period(scheme, pipeline.read_and_validate(scheme, inbox, workers=1))
    return scheme_path, inbox, results


@pytest.fixture(scope="module")
def p2024(tmp_path_factory):
    return _period(tmp_path_factory.mktemp("p2024"), "2024")


@pytest.fixture(scope="module")
def p2023(tmp_path_factory):
    return _period(tmp_path_factory.mktemp("p2023"), "2023", values=VALUES_2023, assessed=ASSESSED_2023)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, p2024):
    """An outputs root holding one clean 2024 run; tests work on copies of it."""
    out = tmp_path_factory.mktemp("baseline") / "out"
    pipeline.archive_period(p2024[2], out, issued_on=ISSUED, workers=1)
    return out


@pytest.fixture
def out(tmp_path, baseline):
    return Path(shutil.copytree(baseline, tmp_path / "out"))


def tree(folder: Path) -> dict[str, str]:
    """relative path → sha256 of every file below folder (independent of the archive module)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def write(results, inbox, out, **kwargs):
    return pipeline.archive_period(results, out, issued_on=ISSUED, workers=1, **kwargs)


# --------------------------------------------------------------------------- manifest


def test_manifest_hashes_every_file_and_inputs_are_byte_identical(out, p2024):
    folder = out / "2024"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["period"] == "2024"
    assert manifest["scheme_fingerprint"] == load_scheme(p2024[0]).fingerprint
    assert manifest["tool_version"] and manifest["created_at"]
    listed = {e["path"]: (e["sha256"], e["size"]) for e in manifest["files"]}
    on_disk = {k: v for k, v in tree(folder).items() if k != "manifest.json"}
    assert set(listed) == set(on_disk)
    for path, digest in on_disk.items():
        assert listed[path] == (digest, (folder / path).stat().st_size)
    # Inputs: the five received files under their own names, byte for byte.
    inbox = p2024[1]
    assert sorted(p.name for p in (folder / "inputs").iterdir()) == sorted([*FILES.values(), "评定表.xlsx"])
    for name in [*FILES.values(), "评定表.xlsx"]:
        assert (folder / "inputs" / name).read_bytes() == (inbox / name).read_bytes()
    assert (folder / "scheme.xlsx").read_bytes() == p2024[0].read_bytes()
    totals = pd.read_parquet(folder / "totals.parquet")
    # T01: 38 + 16 + 20 + 10 + 10 = 94 (A1 40·95/100, A2 20·(0.6+0.4·1/2), B1 capped, 优, 0.45 ≤ 0.5)
    assert totals.set_index("unit_code").loc["T01", "total"] == pytest.approx(94.0)
    assert not (out / archive.LOCK_NAME).exists()


# --------------------------------------------------------------------------- verify


def test_verify_clean_period_is_identical(out):
    report = pipeline.verify_period(out, "2024")
    assert report.ok, report.lines()
    assert report.rescored and report.files_checked > 10
    assert "核验通过" in report.lines()[-1]


def test_verify_catches_changed_byte_in_an_input(out):
    flip_byte(out / "2024" / "inputs" / FILES["T01"])
    report = pipeline.verify_period(out, "2024")
    assert not report.ok
    assert report.changed == [f"inputs/{FILES['T01']}"]
    assert any("文件被改动" in line and FILES["T01"] in line for line in report.lines())


def test_verify_catches_a_changed_value_in_an_input_as_a_result_difference(out):
    # T01 now reports A1 = 100 instead of 95: A1 40·100/100 = 40 instead of 38, total 96.00 instead of 94.00.
    fill_unit(out / "2024" / "inputs" / FILES["T01"], {"A1": 100})
    report = pipeline.verify_period(out, "2024")
    assert not report.ok
    assert report.changed == [f"inputs/{FILES['T01']}"]
    diffs = report.result_diffs.set_index(["unit_code", "indicator_code", "field"])
    assert diffs.loc[("T01", "", "总分"), ["archived", "recomputed"]].tolist() == ["94.00", "96.00"]
    assert diffs.loc[("T01", "", "指标得分"), ["archived", "recomputed"]].tolist() == ["94.00", "96.00"]
    assert diffs.loc[("T01", "A1", "得分"), ["archived", "recomputed"]].tolist() == ["38.00", "40.00"]
    assert len(report.result_diffs) == 3


def test_verify_catches_changed_byte_in_an_output_and_lost_and_extra_files(out):
    flip_byte(out / "2024" / "汇总表.xlsx", offset=200)
    (out / "2024" / "反馈" / "D01_发改局.xlsx").unlink()
    (out / "2024" / "备注.txt").write_text("后加的", encoding="utf-8")
    report = pipeline.verify_period(out, "2024")
    assert not report.ok
    assert report.changed == ["汇总表.xlsx"]
    assert report.missing == ["反馈/D01_发改局.xlsx"]
    assert report.extra == ["备注.txt"]
    assert report.result_diffs.empty  # the inputs are intact, so the results still re-score identically


def test_verify_reports_a_changed_result_table(out):
    totals_path = out / "2024" / "totals.parquet"
    totals = pd.read_parquet(totals_path)
    totals.loc[totals["unit_code"] == "D02", "total"] = 28.885  # prints 28.89 (half-up): not a visible change
    totals.loc[totals["unit_code"] == "T02", "grade"] = "优秀"
    totals.to_parquet(totals_path, index=False)
    report = pipeline.verify_period(out, "2024")
    assert report.changed == ["totals.parquet"]
    assert report.result_diffs[["unit_code", "field", "archived", "recomputed"]].values.tolist() == [["T02", "等次", "优秀", "良好"]]


def test_verify_unknown_period(out):
    with pytest.raises(PeriodNotFound, match="2019"):
        pipeline.verify_period(out, "2019")


# --------------------------------------------------------------------------- seal, re-run


def test_sealed_period_is_not_overwritten(out, p2024):
    before = tree(out / "2024")
    seal = archive.seal_period(out, "2024", by="张三")
    record = json.loads(seal.read_text(encoding="utf-8"))
    assert record["by"] == "张三"
    assert record["manifest_sha256"] == hashlib.sha256((out / "2024" / "manifest.json").read_bytes()).hexdigest()
    with pytest.raises(PeriodSealed) as caught:
        write(p2024[2], p2024[1], out)
    assert "已封存" in str(caught.value) and "--out" in str(caught.value)
    after = tree(out / "2024")
    assert after.pop("SEALED.json")
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == ["2024"]  # no backup, no staging, no lock left
    with pytest.raises(PeriodSealed):
        archive.seal_period(out, "2024")
    assert pipeline.verify_period(out, "2024").ok


def test_seal_refuses_a_tampered_or_unknown_period(out):
    flip_byte(out / "2024" / "scores.csv", offset=10)
    with pytest.raises(ArchiveMismatch, match="scores.csv"):
        archive.seal_period(out, "2024")
    assert not archive.is_sealed(out / "2024")
    with pytest.raises(PeriodNotFound):
        archive.seal_period(out, "2025")


def test_verify_catches_manifest_edited_after_sealing(out):
    archive.seal_period(out, "2024")
    manifest_path = out / "2024" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["created_at"] = "2020-01-01T00:00:00+08:00"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    report = pipeline.verify_period(out, "2024")
    assert not report.ok and any("封存后被改动" in p for p in report.problems)


def test_rerun_of_unsealed_period_keeps_the_old_one(out, p2024):
    before = tree(out / "2024")
    write(p2024[2], p2024[1], out)
    backups = [p for p in out.iterdir() if p.name.startswith("2024.")]
    assert len(backups) == 1
    assert tree(backups[0]) == before
    assert [p.name for p in archive.period_folders(out)] == ["2024"]
    assert pipeline.verify_period(out, "2024").ok


# --------------------------------------------------------------------------- lock


def _write_lock(out: Path, **info) -> Path:
    path = out / archive.LOCK_NAME
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def test_live_lock_refuses_with_a_chinese_message(out, p2024):
    before = tree(out / "2024")
    _write_lock(out, pid=os.getpid(), host=socket.gethostname(), created_at="2025-01-15T09:00:00+08:00", token="x")
    with pytest.raises(OutputsLocked) as caught:
        write(p2024[2], p2024[1], out)
    message = str(caught.value)
    assert "正被另一次运行" in message and str(os.getpid()) in message and archive.LOCK_NAME in message
    assert tree(out / "2024") == before
    assert (out / archive.LOCK_NAME).exists()  # someone else's lock is never removed


def test_lock_of_another_host_is_respected(out, p2024):
    _write_lock(out, pid=1, host="另一台电脑-not-this-host", created_at="2025-01-15T09:00:00+08:00", token="x")
    with pytest.raises(OutputsLocked, match="另一台电脑"):
        write(p2024[2], p2024[1], out)


def test_stale_lock_of_a_dead_process_is_broken(out):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path = _write_lock(out, pid=dead.pid, host=socket.gethostname(), created_at="2025-01-15T09:00:00+08:00", token="x")
    lock = archive.acquire_lock(out)
    held = json.loads(lock_path.read_text(encoding="utf-8"))
    assert (held["pid"], held["host"]) == (os.getpid(), socket.gethostname()) and held["created_at"]
    with pytest.raises(OutputsLocked):  # our own live lock is not stale
        archive.acquire_lock(out)
    lock.release()
    assert not lock_path.exists()


def test_unreadable_lock_is_stale_only_when_old(out):
    lock_path = out / archive.LOCK_NAME
    lock_path.write_bytes(b"")  # a run that died between creating and filling the lock
    with pytest.raises(OutputsLocked, match="正在启动"):
        archive.acquire_lock(out)
    old = time.time() - archive.UNREADABLE_LOCK_GRACE_S - 5
    os.utime(lock_path, (old, old))
    with archive.outputs_lock(out):
        assert json.loads(lock_path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert not lock_path.exists()


def test_leftover_staging_is_ignored_and_cleaned_by_the_next_run(out, p2024):
    junk = out / ".2024.staging-99999-1"
    (junk / "反馈").mkdir(parents=True)
    shutil.copyfile(out / "2024" / "manifest.json", junk / "manifest.json")
    assert [p.name for p in archive.period_folders(out)] == ["2024"]
    assert set(archive.history_table(out)["period"]) == {"2024"}
    write(p2024[2], p2024[1], out)
    assert not junk.exists()


def test_ctrl_c_while_writing_leaves_no_trace(out, p2024, monkeypatch):
    before = tree(out / "2024")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(period_outputs.report, "write_csvs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write(p2024[2], p2024[1], out)
    assert sorted(p.name for p in out.iterdir()) == ["2024"]  # no staging folder, no lock, no backup
    assert tree(out / "2024") == before


def test_inbox_file_changed_after_reading_is_refused(out, p2024, monkeypatch):
    from dataclasses import replace

    before = tree(out / "2024")
    validated = p2024[2].validated
    files = [replace(f, sha256="0" * 64) if f.name == FILES["T02"] else f for f in validated.files]
    monkeypatch.setattr(validated, "files", files)
    with pytest.raises(InboxChanged, match=FILES["T02"]):
        write(p2024[2], p2024[1], out)
    assert sorted(p.name for p in out.iterdir()) == ["2024"]
    assert tree(out / "2024") == before


# --------------------------------------------------------------------------- killed and concurrent runs


def _half_swapped(out: Path) -> None:
    """As a run killed between the two renames of its swap leaves it: the period under its backup
    name, the journal of a process that no longer exists."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / "2024").rename(out / "2024.20250115-093000")
    (out / ".2024.swap.json").write_text(json.dumps({
        "period": "2024", "backup": "2024.20250115-093000", "staging": ".2024.staging-1-1",
        "pid": dead.pid, "host": socket.gethostname(), "created_at": "2025-01-15T09:30:00+08:00"}), encoding="utf-8")


def test_every_period_lookup_rolls_back_a_half_done_swap(out, tmp_path):
    from kaohe_excel.outputs import mail

    lookups = {
        "load_period (gap, simulate, the web page)": lambda root: pipeline.load_period(root, "2024", workers=1).ranked,
        "verify": lambda root: pipeline.verify_period(root, "2024").ok or pytest.fail("verify failed"),
        "mail": lambda root: mail._period_folder(root, "2024"),
    }
    for what, lookup in lookups.items():
        root = Path(shutil.copytree(out, tmp_path / what.split()[0]))
        _half_swapped(root)
        lookup(root)  # before: PeriodNotFound, while `history` healed the folder
        assert (root / "2024" / "manifest.json").is_file(), what
        assert not (root / ".2024.swap.json").exists(), what




def _pause_at(stage: str, signal_file: Path):
    """archive.pause_hook: at `stage`, write our pid to the signal file and wait until it is removed
    (or a minute passes), so the parent can kill us right there."""
    def pause(reached: str) -> None:
        if reached != stage:
            return
        signal_file.write_text(str(os.getpid()), encoding="utf-8")
        deadline = time.monotonic() + 60
        while signal_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    return pause


def _child_write(results, inbox: str, out: str, stage: str, signal_file: str) -> None:
    """Runs in a forkserver child: writes the period, pausing at `stage` until the signal file goes."""
    archive.pause_hook = _pause_at(stage, Path(signal_file))
    write(results, Path(inbox), Path(out))


@pytest.fixture(scope="module")
def mp():
    context = multiprocessing.get_context("forkserver")
    # Children fork from a server that already imported the package: starts in milliseconds.
    context.set_forkserver_preload(["kaohe_excel.jobs.pipeline", "kaohe_excel.storage.archive", "test_archive"])
    return context


def _start(mp, p2024, out: Path, stage: str, signal_file: Path):
    process = mp.Process(target=_child_write, args=(p2024[2], str(p2024[1]), str(out), stage, str(signal_file)))
    process.start()
    return process


def _wait_for(path: Path, process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.is_alive() or path.exists(), f"child ended (exit {process.exitcode}) before pausing"
        assert time.monotonic() < deadline, "child never reached its pause point"
        time.sleep(0.02)


def test_killed_runs_leave_the_previous_period_intact(tmp_path, baseline, p2024, mp):
    before = tree(baseline / "2024")
    roots = {stage: Path(shutil.copytree(baseline, tmp_path / stage / "out")) for stage in KILL_STAGES}
    signals = {stage: tmp_path / stage / "paused" for stage in KILL_STAGES}
    # All children run at once (each on its own outputs root) to keep the test fast.
    children = {stage: _start(mp, p2024, roots[stage], stage, signals[stage]) for stage in KILL_STAGES}
    try:
        for stage in KILL_STAGES:
            _wait_for(signals[stage], children[stage])
            children[stage].kill()  # SIGKILL: no cleanup code runs
            children[stage].join()
            assert children[stage].exitcode == -9
    finally:
        for child in children.values():
            if child.is_alive():
                child.kill()
    for stage, root in roots.items():
        names = {p.name for p in root.iterdir()}
        assert archive.LOCK_NAME in names  # the dead run's lock is left behind: it must be recognised as stale
        if stage == "swap":
            # Killed between the two renames: the old folder sits under its backup name until any
            # archive access rolls the swap back.
            assert "2024" not in names
            assert [p.name for p in archive.period_folders(root)] == ["2024"]
        assert tree(root / "2024") == before, stage
        assert [p.name for p in archive.period_folders(root)] == ["2024"], stage
    # A later run on each root succeeds, cleans up, and keeps the intact old period as the backup.
    for stage in ("outputs", "swap"):
        root = roots[stage]
        write(p2024[2], p2024[1], root)
        names = sorted(p.name for p in root.iterdir())
        assert names[0] == "2024" and len(names) == 2 and names[1].startswith("2024."), names
        assert tree(root / names[1]) == before
        assert pipeline.verify_period(root, "2024").ok


def test_two_concurrent_runs(tmp_path, out, p2024, mp):
    signal = tmp_path / "paused"
    first = _start(mp, p2024, out, "locked", signal)
    try:
        _wait_for(signal, first)
        with pytest.raises(OutputsLocked) as caught:
            write(p2024[2], p2024[1], out)
        assert str(first.pid) in str(caught.value)
        signal.unlink()  # let the first run finish
        first.join(60)
        assert first.exitcode == 0
    finally:
        if first.is_alive():
            first.kill()
    assert pipeline.verify_period(out, "2024").ok
    write(p2024[2], p2024[1], out)  # and now the second one goes through
    assert len([p for p in out.iterdir() if p.name.startswith("2024.")]) == 2
    assert not (out / archive.LOCK_NAME).exists()


# --------------------------------------------------------------------------- two periods, 纵向, history


def _label_values(sheet) -> dict[str, object]:
    return {row[0]: row[1] for row in sheet.iter_rows(min_row=2, max_row=20, max_col=2, values_only=True) if row[0]}


def _table(sheet, first_header: str) -> pd.DataFrame:
    rows = list(sheet.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row and row[0] == first_header)
    body = [r for r in rows[start + 1:] if any(v is not None for v in r)]
    return pd.DataFrame(body, columns=rows[start])


def test_two_periods_longitudinal_columns(tmp_path, p2023, p2024):
    out = tmp_path / "out"
    write(p2023[2], p2023[1], out)
    archive.seal_period(out, "2023")
    # An unsealed period between the two must not become the default baseline.
    shutil.copytree(out / "2023", out / "2023H2")
    (out / "2023H2" / "SEALED.json").unlink()
    folder, _ = write(p2024[2], p2024[1], out)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["compared_to"] == "2023"

    # 2023 by hand:
    #   T01: A1 40·90/100=36, A2 x=10≥满分 → 20, B1 20·81/90=18, C1 良 10·0.8=8, C2 反向 0.5/0.5 → 10: 92
    #   T02: A1 40·60/80=30, A2 x=8=基本值 → 20·0.6=12, B1 20, C1 优 10, C2 10: 82
    #   D01: B1 20·45/90=10, C1 差 10·0.3=3, C2 反向 10·0.5/1.0=5: 18;  D02: B1 20, C1 良 8, C2 不考核: 28
    #   ranks 乡镇 T01 1, T02 2; 部门 D02 1, D01 2
    # 2024 (test_validate's values): T01 94.00, T02 86.39, D01 36.00, D02 28.89; ranks T01 1 T02 2 D01 1 D02 2
    expected = {  # unit: (上期总分, 分数变化, 上期排名, 名次变化 = 上期排名 − 本期排名)
        "T01": (92.0, 2.0, 1, 0),       # 94 − 92
        "T02": (82.0, 4.39, 2, 0),      # 86.39 − 82
        "D01": (18.0, 18.0, 2, 1),      # 36 − 18; 2 → 1
        "D02": (28.0, 0.89, 1, -1),     # 28.89 − 28; 1 → 2
    }
    ranking = _table(load_workbook(folder / "汇总表.xlsx")["总排名"], "考核类别").set_index("单位代码")
    for unit, (prev_total, change, prev_rank, rank_change) in expected.items():
        row = ranking.loc[unit]
        assert row["上期总分"] == pytest.approx(prev_total)
        assert row["分数变化"] == pytest.approx(change)
        assert row["上期排名"] == prev_rank
        assert row["名次变化"] == rank_change

    book = load_workbook(folder / "反馈" / "D01_发改局.xlsx")["得分情况"]
    header = _label_values(book)
    assert header["上期总分"] == pytest.approx(18.0)
    assert header["分数变化"] == pytest.approx(18.0)
    assert header["上期排名"] == 2 and header["名次变化"] == 1
    rows = _table(book, "一级指标").set_index("指标名称")
    # B1 20 − 10 = +10, C1 中 6 − 差 3 = +3, C2 10 − 5 = +5
    assert rows.loc["群众满意度", ["上期得分", "变化"]].tolist() == pytest.approx([10.0, 10.0])
    assert rows.loc["党建工作", ["上期得分", "变化"]].tolist() == pytest.approx([3.0, 3.0])
    assert rows.loc["单位GDP能耗", ["上期得分", "变化"]].tolist() == pytest.approx([5.0, 5.0])

    # History over the three archived folders (2023, 2023H2 copy, 2024), one unit.
    history = archive.history_table(out, unit="D01")
    assert history["period"].tolist() == ["2023", "2023H2", "2024"]
    assert history["total"].tolist() == pytest.approx([18.0, 18.0, 36.0])
    assert history["rank"].tolist() == [2, 2, 1]
    assert history["sealed"].tolist() == [True, False, False]
    assert history["total_change"].tolist()[1:] == pytest.approx([0.0, 18.0])
    assert history["rank_change"].tolist()[1:] == [0, 1]
    assert archive.history_table(out, unit="发改局")["unit_code"].unique().tolist() == ["D01"]

    # Explicit --compare-to wins over the default; an unknown one is refused.
    write(p2024[2], p2024[1], out, compare_to="2023H2")
    assert json.loads((out / "2024" / "manifest.json").read_text(encoding="utf-8"))["compared_to"] == "2023H2"
    with pytest.raises(PeriodNotFound, match="2022"):
        write(p2024[2], p2024[1], out, compare_to="2022")

    path = period_outputs.write_history_xlsx(tmp_path / "历年.xlsx", archive.history_table(out))
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["明细", "乡镇", "部门"]
    towns = _table(workbook["乡镇"], "单位代码").set_index("单位代码")
    assert towns.loc["T01", ["2023", "2023H2", "2024"]].tolist() == pytest.approx([92.0, 92.0, 94.0])
    assert towns.loc["T02", "2024"] == pytest.approx(86.39)
    with zipfile.ZipFile(path) as archive_zip:
        charts = [n for n in archive_zip.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 2  # one line chart per group
