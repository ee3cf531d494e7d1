"""One owner each: the display width of CJK text (text_width), the lock files (archive_lock) and the
feedback workbook's name (archive.feedback_name). Every writer and reader goes through the owner;
what is not routed yet is named in PENDING with the module that still has its own copy."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from conftest import small_scheme_sheets, write_workbook
from inbox_helpers import fill_assessment, fill_unit
from kaohe_excel.storage import archive
from kaohe_excel.storage import archive_lock
from kaohe_excel.outputs import mail
from kaohe_excel.outputs import notice_layout
from kaohe_excel.jobs import pipeline
from kaohe_excel.outputs import report_values
from kaohe_excel.outputs import template
from kaohe_excel.base.errors import KaoheError
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_assessment_workbook, write_templates
from kaohe_excel.base import text_width
from kaohe_excel.base.text_width import display_width

PACKAGE = Path(__file__).resolve().parent.parent / "kaohe_excel"
PENDING: dict[str, set[str]] = {"east_asian_width": set()}  # modules that still measure widths themselves (none now)


def _modules_using(name: str) -> set[str]:
    """Package modules whose code refers to `name` (an attribute or a plain name)."""
    users = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == name) or (isinstance(node, ast.Name) and node.id == name):
                users.add(path.relative_to(PACKAGE).as_posix())
                break
    return users


# --------------------------------------------------------------------------- display width


def test_display_width_counts_wide_and_full_width_characters_twice():
    assert display_width("考核A") == 5
    assert display_width("ＡＢ1") == 5  # full-width letters
    assert display_width("“测”") == 4  # the quotes are ambiguous: narrow in a cell
    assert display_width("“测”", ambiguous_wide=True) == 6  # and wide in a document title
    assert display_width(12.5) == 4


def test_the_layouts_measure_with_the_owner():
    assert template.display_width("单位") == 4 and template.display_width(None) == 0 and template.display_width(float("nan")) == 0
    assert notice_layout._width("2024年度考核") == 6.0  # four digits at half a character, four characters at one
    assert notice_layout._width("“A”") == 2.5


def test_the_summary_sheets_fast_width_equals_the_owners_width_of_the_longest_line():
    texts = ["考核A", "ＡＢ1", "“测”", "", "abc", "第一行\n第二行更长一些", "a\nbb\nccc考", "①②③", "😀x", "\t空格 ",
             "混合 Mixed 文本，标点。", "—" * 5]
    fast = report_values._line_widths(texts).tolist()
    assert fast == [float(display_width(max(t.split("\n"), key=len))) for t in texts]


def test_the_owners_many_texts_width_equals_its_width_of_each_text():
    first = ["考核A", "ＡＢ1", "“测”", "", "①②③", "😀x", "abc", "单位", "9"]  # more than a few: counted together
    later = ["考核B", "\t空格 ", "混合 Mixed 文本，标点。", "—" * 5, "a\nb", "🈶", "ｘ", "é", "﹏"]  # characters new to it
    assert text_width.display_widths(first).tolist() == [5, 5, 4, 0, 3, 3, 3, 4, 1]
    assert text_width.display_widths(later).tolist() == [5, 6, 23, 5, 3, 2, 2, 1, 2]
    assert text_width.display_widths(first[:3]).tolist() == [5, 5, 4]  # a few: one by one
    assert text_width.display_widths([]).tolist() == []
    assert text_width.display_widths(first + later).tolist() == [display_width(t) for t in first + later]


def test_only_the_owner_asks_unicodedata_for_east_asian_width():
    assert _modules_using("east_asian_width") - PENDING["east_asian_width"] == {"base/text_width.py"}


# --------------------------------------------------------------------------- lock files


def test_only_the_lock_owner_creates_files_exclusively():
    # origin.py creates the office key exclusively (never overwriting one that appeared meanwhile): not a lock
    assert _modules_using("O_EXCL") == {"storage/archive_lock.py", "base/origin.py"}


@pytest.fixture(scope="module")
def period(tmp_path_factory) -> dict:
    """A scored period whose units include T01 and T01_2 (one code the prefix of another) and a name
    with a character no file name may hold."""
    root = tmp_path_factory.mktemp("owners")
    sheets = small_scheme_sheets()
    sheets["单位"] = sheets["单位"].assign(单位代码=["T01", "T01_2", "D01", "D02"],
                                         单位名称=["东城镇/新区", "东城镇二区", "发改局", "财政局"])
    sheets["目标分解"] = sheets["目标分解"].assign(单位代码=["T01_2", "D02"])
    scheme_path = write_workbook(root / "scheme.xlsx", sheets)
    scheme = load_scheme(scheme_path)
    inbox = root / "inbox"
    write_templates(scheme, inbox)
    write_assessment_workbook(scheme, inbox)
    # the template names, by hand: 单位代码_单位名称.xlsx with "/" made "_"
    fill_unit(inbox / "T01_东城镇_新区.xlsx", {"A1": 95, "A2": 9, "C2": 0.45})
    fill_unit(inbox / "T01_2_东城镇二区.xlsx", {"A1": 85, "A2": 7, "C2": 0.6})
    fill_unit(inbox / "D01_发改局.xlsx", {"C2": 0.5})
    fill_assessment(inbox / "评定表.xlsx", {
        ("T01", "B1"): 92, ("T01_2", "B1"): 88, ("D01", "B1"): 90, ("D02", "B1"): 85,
        ("T01", "C1"): "优", ("T01_2", "C1"): "良", ("D01", "C1"): "中", ("D02", "C1"): "优"})
    out = root / "outputs"
    pipeline.run(inbox, scheme_path, out_root=out, issued_on=date(2025, 1, 15))
    return {"root": root, "scheme": scheme_path, "inbox": inbox, "out": out}


def _dead_pid() -> int:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def test_a_second_mail_run_on_the_period_is_refused_while_the_first_holds_the_lock(period):
    folder = period["out"] / "2024"
    busy = lambda holder: KaoheError("held")  # noqa: E731
    with archive_lock.lock_file(folder / mail.LOCK_NAME, busy):
        with pytest.raises(KaoheError, match="另一个 kaohe mail 正在发送本期邮件"):
            mail.send_period(period["out"], "2024", config_path=period["root"] / "none.toml", dry_run=True)
    assert not (folder / mail.LOCK_NAME).exists()


def test_a_mail_lock_left_by_a_dead_run_is_broken_as_the_outputs_lock_is(period):
    folder = period["out"] / "2024"
    lock = folder / mail.LOCK_NAME
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "created_at": "2025-01-15T09:00:00+08:00",
                                "token": "x"}), encoding="utf-8")
    seen = []

    def progress(stage, done, total):
        seen.append(json.loads(lock.read_text(encoding="utf-8")))

    report_ = mail.send_period(period["out"], "2024", config_path=period["root"] / "none.toml", dry_run=True,
                               progress=progress)
    assert report_.outcomes and not lock.exists()
    # while the run held it, the lock said who: the same record as the outputs lock
    assert seen and {"pid": seen[0]["pid"], "host": seen[0]["host"]} == {"pid": os.getpid(), "host": socket.gethostname()}
    assert set(seen[0]) == {"pid", "host", "created_at", "token"}


# --------------------------------------------------------------------------- the feedback workbook's name


def test_feedback_name_is_code_and_name_made_safe():
    assert archive.feedback_name("T01", "东城镇") == "T01_东城镇.xlsx"
    assert archive.feedback_name("T01", "东城镇/新区") == "T01_东城镇_新区.xlsx"
    assert archive.feedback_name("T01", None) == archive.feedback_name("T01", float("nan")) == "T01_.xlsx"
    assert archive.feedback_path("T01", "东城镇") == "反馈/T01_东城镇.xlsx"


def test_the_run_writes_mail_attaches_and_the_page_links_the_same_feedback_file(period):
    pytest.importorskip("starlette", reason="starlette is not installed (pip install -e .[test])")
    from kaohe_excel.web import page_results
    from kaohe_excel.web import routes
    from kaohe_excel.web.folder import WorkFolder
    from kaohe_excel.web.security import Security

    expected = {"T01": "T01_东城镇_新区.xlsx", "T01_2": "T01_2_东城镇二区.xlsx", "D01": "D01_发改局.xlsx",
                "D02": "D02_财政局.xlsx"}
    folder = period["out"] / "2024"
    assert sorted(p.name for p in (folder / "反馈").iterdir()) == sorted(expected.values())

    sent = mail.send_period(period["out"], "2024", config_path=period["root"] / "none.toml", dry_run=True)
    attached = {o.unit_code: o.attachments for o in sent.outcomes if o.unit_code}
    assert attached == {code: [name] for code, name in expected.items()}

    work = WorkFolder(root=period["root"], scheme=period["scheme"], inbox=period["inbox"], outputs=period["out"],
                      state=period["root"] / ".kaohe-web", config=period["root"] / "kaohe.toml")
    data = routes.AppState(work, Security()).period_data("2024")
    for code, name in expected.items():  # T01's page must not link T01_2's workbook, whose name starts with T01_
        assert page_results._unit_view(data, code)["feedback"] == f"反馈/{name}"
