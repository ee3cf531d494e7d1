"""`kaohe init` gives a new office a working folder from the installed package alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kaohe_excel.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_init_then_run_the_sample_inbox(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "考核"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "考核"
    for name in ["考核方案.xlsx", "kaohe.toml.example", "使用说明.txt", "考核方案编写指南.md", "templates/通报.docx",
                 "templates/mail_unit.txt.j2", "templates/mail_leader.txt.j2", "示例收件箱/评定表.xlsx"]:
        assert (folder / name).is_file(), name
    # 21 units, 评定表, one 核定表, 复核登记表 (w-appeal), 民主测评: 7 电子票, the 纸质票 entry table, the 汇总 tally
    assert len(list((folder / "示例收件箱").glob("*.xlsx"))) == 33
    guide = (folder / "使用说明.txt").read_bytes()
    assert guide.startswith(b"\xef\xbb\xbf") and b"\r\n" in guide and "kaohe run 示例收件箱".encode() in guide
    assert (folder / "kaohe.toml.example").read_bytes() == (ROOT / "kaohe.toml.example").read_bytes()

    monkeypatch.chdir(folder)
    result = runner.invoke(app, ["run", "示例收件箱"])
    assert result.exit_code == 0, result.output
    assert "使用考核方案：考核方案.xlsx" in result.output
    totals = pd.read_csv(folder / "outputs" / "2024" / "totals.csv", dtype=str)
    assert len(totals) == 21


def test_init_refuses_to_overwrite_a_scheme(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "考核").mkdir()
    (tmp_path / "考核" / "考核方案.xlsx").write_bytes(b"the office's own scheme")
    result = runner.invoke(app, ["init", "考核"])
    assert result.exit_code == 2
    assert "已有 考核方案.xlsx" in result.output
    assert (tmp_path / "考核" / "考核方案.xlsx").read_bytes() == b"the office's own scheme"


def test_without_a_scheme_template_and_run_say_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "收件箱").mkdir()
    for args in (["template"], ["run", "收件箱"], ["check", "收件箱"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "kaohe init" in result.output and "--scheme" in result.output, result.output


def test_template_says_which_scheme_it_uses(tmp_path, small_scheme_path):
    result = runner.invoke(app, ["template", "--scheme", str(small_scheme_path), "--out", str(tmp_path / "模板")])
    assert result.exit_code == 0, result.output
    assert f"使用考核方案：{small_scheme_path}" in result.output


def test_the_package_ships_every_resource_init_and_run_need():
    resources = ROOT / "kaohe_excel" / "resources"
    for name in ["mail_unit.txt.j2", "mail_leader.txt.j2", "kaohe.toml.example", "scheme-guide.md"]:
        assert (resources / name).is_file(), name
    assert (resources / "scheme-guide.md").read_bytes() == (ROOT / "docs" / "scheme-guide.md").read_bytes(), \
        "copy docs/scheme-guide.md to kaohe_excel/resources/scheme-guide.md"
    # the copies in the package are the ones the clone documents
    for name in ["mail_unit.txt.j2", "mail_leader.txt.j2"]:
        assert (resources / name).read_bytes() == (ROOT / "templates" / name).read_bytes(), name


@pytest.mark.slow
def test_built_wheel_in_a_fresh_venv_inits_and_runs(tmp_path):
    """pip wheel + venv (system site-packages for the dependencies: no download), then the README's
    three commands, in a folder outside the clone and without the clone on the path."""
    started = time.monotonic()
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(wheels)],
                           cwd=tmp_path, capture_output=True, text=True)
    if built.returncode and "setuptools" in built.stderr and ("connection" in built.stderr.lower()
                                                             or "No matching distribution" in built.stderr):
        pytest.skip("pip cannot fetch setuptools for the isolated build (offline): " + built.stderr.strip()[-200:])
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("kaohe_excel-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = str(bindir) + os.pathsep + env.get("PATH", "")
    # --force-reinstall --no-deps: the system site may hold an editable kaohe-excel pointing elsewhere
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, env=env)
    installed = time.monotonic()
    work = tmp_path / "office"
    work.mkdir()
    kaohe = shutil.which("kaohe", path=str(bindir))
    assert kaohe, "the wheel installs the kaohe command"
    done = subprocess.run(f'"{kaohe}" init 考核 && cd 考核 && "{kaohe}" run 示例收件箱', shell=True, cwd=work, env=env,
                          capture_output=True, text=True, encoding="utf-8")
    ran = time.monotonic()
    assert done.returncode == 0, done.stdout + done.stderr
    assert (work / "考核" / "outputs" / "2024" / "汇总表.xlsx").is_file()
    assert (work / "考核" / "outputs" / "2024" / "通报.docx").is_file()
    where = subprocess.run([str(python), "-c", "import kaohe_excel; print(kaohe_excel.__file__)"], env=env, cwd=work,
                           capture_output=True, text=True, check=True).stdout
    assert str(venv) in where, f"kaohe_excel came from {where}, not from the wheel"
    print(f"wheel build + venv + install: {installed - started:.1f}s; init + run: {ran - installed:.1f}s")
