"""The command line: help and docs for every command, exit codes, the real run on an inbox."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from inbox_helpers import fill_unit
from kaohe_excel.cli import app
from kaohe_excel.scheme.workbook import load_scheme
from conftest import FILES, make_inbox

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def command_names() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)


def test_every_command_has_help_with_examples_and_a_docs_entry():
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    names = command_names()
    assert {"template", "check", "run"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "示例" in result.output, f"{name} help has no examples"
        assert re.search(r"[\u4e00-\u9fff]", result.output), f"{name} help is not in Chinese"
        assert f"## kaohe {name}" in docs, f"docs/cli.md has no entry for {name}"


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert "check" in result.output and "run" in result.output


@pytest.fixture
def inbox(tmp_path, small_scheme_path):
    return make_inbox(tmp_path / "inbox", load_scheme(small_scheme_path))


def test_check_clean_inbox_exits_0_and_writes_report_outside_inbox(tmp_path, small_scheme_path, inbox):
    report = tmp_path / "reports" / "问题.xlsx"
    result = runner.invoke(app, ["check", str(inbox), "--scheme", str(small_scheme_path), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "未发现错误" in result.output
    assert report.is_file()


def test_check_with_errors_exits_1_and_lists_the_cell(tmp_path, small_scheme_path, inbox):
    fill_unit(inbox / FILES["T01"], {"A1": "很多"})
    report = tmp_path / "问题.xlsx"
    result = runner.invoke(app, ["check", str(inbox), "--scheme", str(small_scheme_path), "--report", str(report)])
    assert result.exit_code == 1
    assert "不是数字" in result.output
    issues = pd.read_excel(report, sheet_name=0, header=None, engine="calamine").astype(str)
    assert issues.apply(lambda col: col.str.contains("T01_东城镇.xlsx")).any().any()


def test_report_inside_inbox_is_refused(small_scheme_path, inbox):
    result = runner.invoke(app, ["check", str(inbox), "--scheme", str(small_scheme_path), "--report", str(inbox / "r.xlsx")])
    assert result.exit_code == 2
    assert "收件箱" in result.output


def test_missing_inbox_and_bad_scheme_exit_2(tmp_path, small_scheme_path):
    result = runner.invoke(app, ["check", str(tmp_path / "nope"), "--scheme", str(small_scheme_path)])
    assert result.exit_code == 2 and "不存在" in result.output
    (tmp_path / "in").mkdir()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    result = runner.invoke(app, ["check", str(tmp_path / "in"), "--scheme", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_run_refuses_on_errors_unless_allowed(tmp_path, small_scheme_path, inbox):
    fill_unit(inbox / FILES["T01"], {"A1": None})
    out = tmp_path / "outputs"
    refused = runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out)])
    assert refused.exit_code == 1
    assert "--allow-errors" in refused.output
    assert not (out / "2024").exists()
    allowed = runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out), "--allow-errors"])
    assert allowed.exit_code == 1, allowed.output  # it ran, but the data still has errors
    scores = pd.read_csv(out / "2024" / "scores.csv", encoding="utf-8-sig", dtype=str)
    row = scores[(scores["单位代码"] == "T01") & (scores["指标代码"] == "A1")].iloc[0]
    assert pd.isna(row["得分"])  # left unscored, not silently 0


def test_run_writes_every_output_and_leaves_inbox_untouched(tmp_path, small_scheme_path, inbox):
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()}
    out = tmp_path / "outputs"
    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    folder = out / "2024"
    for name in ["汇总表.xlsx", "通报.docx", "scores.csv", "totals.csv", "manifest.json", "scheme.xlsx"]:
        assert (folder / name).is_file(), name
    assert sorted(p.name for p in (folder / "反馈").iterdir()) == sorted(FILES.values())
    assert sorted(p.name for p in (folder / "inputs").iterdir()) == sorted(before)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()} == before


def test_period_option_must_match_scheme(tmp_path, small_scheme_path, inbox):
    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(tmp_path / "o"), "--period", "2023"])
    assert result.exit_code == 2 and "2023" in result.output


def test_template_command_writes_one_file_per_unit(tmp_path, small_scheme_path):
    out = tmp_path / "模板"
    result = runner.invoke(app, ["template", "--scheme", str(small_scheme_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(list(FILES.values()) + ["评定表.xlsx", "复核登记表.xlsx"])
    unknown = runner.invoke(app, ["template", "--scheme", str(small_scheme_path), "--out", str(out), "--unit", "ZZ9"])
    assert unknown.exit_code == 2 and "ZZ9" in unknown.output


def test_installed_command_runs_in_a_subprocess(tmp_path, small_scheme_path, inbox):
    """Smoke test of the real entry point, as a user's shell would call it."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    completed = subprocess.run(
        [sys.executable, "-m", "kaohe_excel.cli", "check", str(inbox), "--scheme", str(small_scheme_path),
         "--report", str(tmp_path / "r.xlsx")],
        capture_output=True, text=True, encoding="utf-8", env=env, timeout=120, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "未发现错误" in completed.stdout


def test_archive_commands_round_trip(tmp_path, small_scheme_path, inbox):
    out = tmp_path / "outputs"
    assert runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out)]).exit_code == 0
    sealed = runner.invoke(app, ["seal", "2024", "--out", str(out), "--by", "张三", "--force"])
    assert sealed.exit_code == 0 and "已封存" in sealed.output
    verified = runner.invoke(app, ["verify", "2024", "--out", str(out)])
    assert verified.exit_code == 0 and "核验通过" in verified.output
    again = runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out)])
    assert again.exit_code == 2 and "封存" in again.output
    history = runner.invoke(app, ["history", "--out", str(out), "--unit", "T01"], terminal_width=200)
    assert history.exit_code == 0 and "东城镇" in history.output
    (out / "2024" / "scores.csv").write_bytes((out / "2024" / "scores.csv").read_bytes() + b" ")
    assert runner.invoke(app, ["verify", "2024", "--out", str(out)]).exit_code == 1
    missing = runner.invoke(app, ["verify", "2031", "--out", str(out)])
    assert missing.exit_code == 2


def test_gap_and_simulate_commands(tmp_path, small_scheme_path, inbox):
    out = tmp_path / "outputs"
    assert runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out)]).exit_code == 0
    gap = runner.invoke(app, ["gap", "2024", "--out", str(out), "--unit", "T02"], terminal_width=200)
    assert gap.exit_code == 0, gap.output
    assert "A2" in gap.output
    # T02 A2 基本满分 base 8 full 10, P 20, b 0.6: value 7 < base → 20×0.6×7/8 = 10.50; at 10 → 20: +9.50
    simulated = runner.invoke(app, ["simulate", "2024", "--out", str(out), "--set", "T02:A2=10"], terminal_width=200)
    assert simulated.exit_code == 0, simulated.output
    assert "9.50" in simulated.output
    bad = runner.invoke(app, ["simulate", "2024", "--out", str(out), "--set", "T02-A2"])
    assert bad.exit_code == 2


def test_mail_dry_run_command_and_verify_still_passes(tmp_path, small_scheme_path, inbox):
    out = tmp_path / "outputs"
    assert runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["mail", "2024", "--out", str(out), "--dry-run", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 0, result.output
    emls = sorted(p.name for p in (out / "2024" / "outbox").glob("*.eml"))
    assert len(emls) == 5  # four units and the leaders
    # the mail log and outbox are distribution records, not archived results
    assert runner.invoke(app, ["verify", "2024", "--out", str(out)]).exit_code == 0
    missing_config = runner.invoke(app, ["mail", "2024", "--out", str(out), "--config", str(tmp_path / "none.toml")])
    assert missing_config.exit_code == 2 and "Traceback" not in missing_config.output


def test_template_lead_writes_one_workbook_per_lead_department(tmp_path, small_scheme_path):
    out = tmp_path / "核定"
    result = runner.invoke(app, ["template", "--lead", "--scheme", str(small_scheme_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # 自报 indicators of the small scheme are led by 统计局 (A1), 发改局 (A2, C2)
    assert sorted(p.name for p in out.iterdir()) == ["核定表_发改局.xlsx", "核定表_统计局.xlsx"]
    conflict = runner.invoke(app, ["template", "--lead", "--unit", "T01", "--scheme", str(small_scheme_path)])
    assert conflict.exit_code == 2


def test_version_option():
    from kaohe_excel import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
