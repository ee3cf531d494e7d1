"""Working folders for the web tests: the repo's sample scheme and inbox, or a scheme with a hostile unit name."""

from __future__ import annotations

import shutil
import time
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
SAMPLE_SCHEME = REPO / "templates" / "scheme.xlsx"
SAMPLE_INPUTS = REPO / "sample_inputs"
# Markup, a script and an event handler: shown as text, never run.
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>镇'


def make_work_folder(root: Path) -> Path:
    """A working folder as `kaohe init` lays it out, with an empty 收件箱."""
    from kaohe_excel.web.folder import INBOX_NAME, SCHEME_NAME

    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE_SCHEME, root / SCHEME_NAME)
    (root / INBOX_NAME).mkdir(exist_ok=True)
    return root


def make_hostile_folder(root: Path) -> Path:
    """A small scheme (4 units) whose unit T01 is named HOSTILE_NAME, and an inbox holding only T01's
    blank template (so a check finds errors: T01's values missing, the other units 未报送)."""
    from conftest import small_scheme_sheets, write_workbook
    from kaohe_excel.web.folder import INBOX_NAME, SCHEME_NAME

    root.mkdir(parents=True, exist_ok=True)
    sheets = small_scheme_sheets()
    sheets["单位"].loc[sheets["单位"]["单位代码"] == "T01", "单位名称"] = HOSTILE_NAME
    write_workbook(root / SCHEME_NAME, sheets)
    (root / INBOX_NAME).mkdir(exist_ok=True)
    from kaohe_excel.base import origin
    from kaohe_excel.scheme.workbook import load_scheme
    from kaohe_excel.outputs.template import write_templates

    scheme = load_scheme(root / SCHEME_NAME)
    write_templates(scheme, root / INBOX_NAME, units=["T01"], key=origin.ensure_key(scheme)[0])
    return root


def wait_for_jobs(app, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while app.state.kaohe.jobs.running is not None:
        if time.monotonic() > deadline:
            raise AssertionError("job did not finish in time")
        time.sleep(0.05)


def sample_issue_counts(tmp: Path) -> tuple[int, int]:
    """(errors, warnings) of the sample inbox as the library's own `check` counts them (the page must agree)."""
    from kaohe_excel.jobs import pipeline
    from kaohe_excel.base.issues import Severity

    outcome = pipeline.check(SAMPLE_INPUTS, SAMPLE_SCHEME, tmp / "report.xlsx", out_root=tmp)
    severity = outcome.validated.issues_table["severity"]
    return int((severity == Severity.ERROR.value).sum()), int((severity == Severity.WARNING.value).sum())
