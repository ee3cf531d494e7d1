"""`kaohe --version` and every --help answer at once: none of them loads the data stack.

Each case runs the real entry point (kaohe_excel.cli:main) in a fresh interpreter, because
this test process has long since imported pandas; what counts is what a user's first
`kaohe --help` pulls in. Timing is not asserted (machines differ); bench/results/startup.md
has the measured figures and the command that reproduces them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from kaohe_excel import __version__
from kaohe_excel.cli import app

ROOT = Path(__file__).resolve().parents[1]

# Loading any of these costs from tens to hundreds of milliseconds; a command body may, a help text may not.
HEAVY = ["pandas", "pyarrow", "numpy", "openpyxl", "xlsxwriter", "docxtpl", "starlette", "uvicorn"]

ENGLISH = ["Usage", "Options", "Arguments", "Commands", "Show this message", "[required]", "[default"]

RUN_MAIN = """
import json, sys
exec(sys.argv[2])
sys.argv = ["kaohe", *json.loads(sys.argv[1])]
from kaohe_excel.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
sys.stdout.flush()
loaded = sorted({name.split(".")[0] for name in sys.modules})
sys.stderr.write("\\nSTARTUP " + json.dumps({"code": code, "loaded": loaded, "modules": sorted(sys.modules)}) + "\\n")
"""


def start(args: list[str], prelude: str = "") -> tuple[str, dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "100", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-c", RUN_MAIN, json.dumps(args), prelude], capture_output=True, text=True,
                          encoding="utf-8", env=env, cwd=ROOT, timeout=120)
    report = [line for line in done.stderr.splitlines() if line.startswith("STARTUP ")]
    assert report, done.stderr
    return done.stdout, json.loads(report[-1][len("STARTUP "):])


COMMANDS = sorted(typer.main.get_command(app).commands)


def test_the_command_list_is_the_apps():
    # guards the parametrization below against an empty or stale list
    assert {"init", "template", "check", "run", "seal", "verify", "history", "mail", "serve"} <= set(COMMANDS)


def test_version_loads_no_heavy_module_and_prints_the_version():
    output, report = start(["--version"])
    assert report["code"] == 0
    assert output.strip() == f"kaohe {__version__}"
    assert [name for name in HEAVY if name in report["loaded"]] == []
    # typer's help renderer (and most of rich with it) is for help and errors, not for a version line
    assert "typer.rich_utils" not in report["modules"]


@pytest.mark.parametrize("args", [["--help"], []] + [[name, "--help"] for name in COMMANDS],
                         ids=lambda args: " ".join(args) or "kaohe-alone")
def test_help_loads_no_heavy_module(args):
    output, report = start(args)
    # `kaohe` alone shows the help too, with click's usage exit status 2 (unchanged by this test's subject)
    assert report["code"] == (0 if args else 2)
    assert "用法：" in output and "选项" in output, output
    # typer's renderer is loaded after kaohe_excel.cli here: its panels must still be Chinese
    assert [word for word in ENGLISH if word in output] == [], output
    assert [name for name in HEAVY if name in report["loaded"]] == []


def test_help_is_chinese_when_typers_renderer_was_loaded_first():
    # the other order than above: typer.rich_utils already imported when kaohe_excel.cli is
    output, report = start(["run", "--help"], prelude="import typer.rich_utils")
    assert report["code"] == 0
    assert "选项" in output and [word for word in ENGLISH if word in output] == [], output


def test_fatal_errors_import_without_pandas():
    _, report = start(["--version"], prelude="import kaohe_excel.base.errors as e; e.KaoheError, e.DataErrorsPresent")
    assert [name for name in HEAVY if name in report["loaded"]] == []
