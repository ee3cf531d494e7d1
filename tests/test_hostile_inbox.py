"""Hostile inboxes and templates: a file built to crash the native reader costs only its own
issue on every path, every inbox entry not read is named, nothing from a file acts on the
terminal, and an office-editable template can only show values, never run code.
"""

from __future__ import annotations

import faulthandler
import hashlib
import json
import os
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from conftest import FILES, make_inbox, small_scheme_sheets, write_workbook
from inbox_helpers import fill_unit
from kaohe_excel.base import hostile
from kaohe_excel.inputs import read as read_module
from kaohe_excel.inputs import sniff
from kaohe_excel.scheme import scheme_sheets as scheme_module  # the module that reads the sheets in a child
from kaohe_excel.cli import app
from kaohe_excel.base.errors import NoticeTemplateError, SchemeNotFound
from kaohe_excel.outputs.notice_template import build_notice_template
from kaohe_excel.jobs.pipeline import run
from kaohe_excel.inputs.read import ReadLimits, read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.inputs.validate import validate

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_inputs"
SAMPLE_SCHEME = ROOT / "templates" / "scheme.xlsx"
CORPUS = ROOT / ".." / "shared" / "corpus"
T01 = FILES["T01"]
CLEAN_VALUES = 15  # every value of the clean small inbox (see test_hostile.py)
# What made python-calamine abort the whole process: it reserves 24 bytes per declared string.
BOMB_SST = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
            b'uniqueCount="4294967295"><si><t>x</t></si></sst>')


def with_string_table(source: Path, target: Path, table: bytes = BOMB_SST) -> Path:
    """`source` with xl/sharedStrings.xml (calamine opens it by name) replaced by `table`."""
    with zipfile.ZipFile(source) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()
                   if info.filename != "xl/sharedStrings.xml"]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
        archive.writestr("xl/sharedStrings.xml", table)
    return target


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pristine")
    scheme_path = write_workbook(folder / "scheme.xlsx", small_scheme_sheets())
    scheme = load_scheme(scheme_path)
    return scheme, make_inbox(folder / "inbox", scheme), scheme_path


@pytest.fixture
def scheme(pristine):
    return pristine[0]


@pytest.fixture
def inbox(tmp_path, pristine):
    return Path(shutil.copytree(pristine[1], tmp_path / "inbox"))


def issues_of(validated, file: str) -> list[str]:
    table = validated.issues_table
    return list(table.loc[table["file"] == file, "code"])


# ---------------------------------------------------------------- the shared-string bomb

def test_the_bomb_aborts_calamine_itself(tmp_path, inbox):
    """The premise: without the defence the bytes kill the process that reads them."""
    import subprocess
    import sys

    bomb = with_string_table(inbox / T01, tmp_path / "bomb.xlsx")
    code = "import sys; from python_calamine import CalamineWorkbook; CalamineWorkbook.from_path(sys.argv[1])"
    outcome = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, timeout=120)
    assert outcome.returncode != 0 and b"Traceback" not in outcome.stderr  # an abort, not an exception


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bomb_in_a_small_inbox_is_one_named_error(scheme, inbox, workers):
    with_string_table(inbox / T01, inbox / "炸弹.xlsx")
    before = digest(inbox)
    validated = validate(scheme, read_inbox(inbox, workers=workers))
    assert issues_of(validated, "炸弹.xlsx") == ["unreadable_file"]
    message = validated.issues_table.set_index("file").loc["炸弹.xlsx", "message"]
    assert "4294967295" in message and "另存为 .xlsx" in message
    assert len(validated.values) == CLEAN_VALUES  # every other file read as before
    assert digest(inbox) == before


def test_a_bomb_in_a_pooled_inbox_is_one_named_error(tmp_path, pristine):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for index in range(70):  # more than the old in-process threshold of 64 files
        (inbox / f"说明{index:02d}.txt").write_text("不是表格", encoding="utf-8")
    with_string_table(pristine[1] / T01, inbox / "炸弹.xlsx")
    shutil.copyfile(pristine[1] / FILES["T02"], inbox / "好.xlsx")
    by_name = {r.name: r for r in read_inbox(inbox, workers=2).files}
    assert len(by_name) == 72
    assert [i.code.value for i in by_name["炸弹.xlsx"].issues] == ["unreadable_file"]
    assert by_name["好.xlsx"].readable and by_name["好.xlsx"].kind == "单位填报表"


@pytest.mark.parametrize("workers", [1, 2])
def test_an_abort_nobody_foresaw_costs_only_its_file(scheme, inbox, monkeypatch, workers):
    """The second layer: with the bomb check switched off, the bomb reaches calamine and aborts
    the process reading it; that is a pool worker, then an isolated child, never this process."""
    monkeypatch.setattr(sniff, "string_table_problem", lambda data: None)  # forked workers inherit it
    monkeypatch.setattr(read_module, "_quiet_stderr", lambda: (faulthandler.disable(), hostile.quiet()))
    with_string_table(inbox / T01, inbox / "炸弹.xlsx")
    validated = validate(scheme, read_inbox(inbox, workers=workers))
    assert issues_of(validated, "炸弹.xlsx") == ["unreadable_file"]
    assert "异常退出" in validated.issues_table.set_index("file").loc["炸弹.xlsx", "message"]
    assert len(validated.values) == CLEAN_VALUES


def test_an_honest_slightly_wrong_count_is_read(scheme, inbox):
    # LibreOffice writes counts that are a little off (corpus poi/MalformedSSTCount.xlsx): harmless
    table = BOMB_SST.replace(b'uniqueCount="4294967295"', b'uniqueCount="7"')
    with_string_table(inbox / T01, inbox / T01.replace(".xlsx", "_x.xlsx"), table)
    (inbox / T01).unlink()
    validated = validate(scheme, read_inbox(inbox, workers=1))
    assert validated.error_count == 0 and len(validated.values) == CLEAN_VALUES


def test_kaohe_run_on_the_samples_plus_a_bomb(tmp_path):
    inbox = Path(shutil.copytree(SAMPLES, tmp_path / "inbox"))
    bomb = "XZ01_城关镇（重报）.xlsx"
    with_string_table(SAMPLES / "XZ01_城关镇.xlsx", inbox / bomb)
    before = digest(inbox)
    out = tmp_path / "out"
    outcome = CliRunner().invoke(app, ["run", str(inbox), "--scheme", str(SAMPLE_SCHEME), "--out", str(out), "--allow-errors"])
    assert outcome.exit_code == 1, outcome.output
    assert "Traceback" not in outcome.output and "程序内部错误" not in outcome.output
    assert "校验：1 个错误" in outcome.output
    import pandas as pd

    table = pd.read_parquet(out / "2024" / "issues.parquet")
    errors = table[table["severity"] == "错误"]
    assert list(errors["file"]) == [bomb] and list(errors["code"]) == ["unreadable_file"]
    totals = pd.read_csv(out / "2024" / "totals.csv", encoding="utf-8-sig", dtype={"单位代码": str})
    units = load_scheme(SAMPLE_SCHEME).units["unit_code"]
    assert sorted(totals["单位代码"]) == sorted(units) and totals["总分"].notna().all()  # every unit scored
    assert digest(inbox) == before


@pytest.mark.parametrize("command", ["check", "template"])
def test_a_bombed_scheme_is_one_chinese_line_exit_2(tmp_path, inbox, command):
    scheme_path = with_string_table(SAMPLE_SCHEME, tmp_path / "考核方案.xlsx")
    args = {"check": ["check", str(inbox), "--scheme", str(scheme_path), "--report", str(tmp_path / "r.xlsx")],
            "template": ["template", "--scheme", str(scheme_path), "--out", str(tmp_path / "模板")]}[command]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 2, outcome.output
    assert "错误：考核方案文件「考核方案.xlsx」文件结构异常" in outcome.output and "另存为 .xlsx" in outcome.output
    assert "Traceback" not in outcome.output


def test_a_scheme_that_kills_its_reader_is_a_chinese_error(tmp_path, monkeypatch):
    monkeypatch.setattr(scheme_module, "_calamine_sheets", _abort)  # the forked child inherits it
    with pytest.raises(SchemeNotFound, match="解析程序异常退出"):
        load_scheme(write_workbook(tmp_path / "scheme.xlsx", small_scheme_sheets()))


def _abort(data):
    hostile.quiet()
    faulthandler.disable()
    os.abort()


# ---------------------------------------------------------------- every corpus file: a result or issues

def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv")


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_every_corpus_file_gives_a_result_or_issues(path, tmp_path):
    """Read as check reads it; then the same file with the bomb put inside: never read, always named."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(path, inbox / path.name)
    try:
        with_string_table(path, inbox / ("炸弹_" + path.name))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        (inbox / ("炸弹_" + path.name)).unlink(missing_ok=True)  # not a zip we can rebuild
    results = {r.name: r for r in read_inbox(inbox, workers=1, limits=ReadLimits(timeout_seconds=20)).files}
    assert set(results) == {p.name for p in inbox.iterdir()}
    for name, result in results.items():
        assert result.kind or result.issues, name
        assert all(issue.file == name and issue.message for issue in result.issues), name
    bombed = results.get("炸弹_" + path.name)
    assert bombed is None or (bombed.issues and not bombed.rows), bombed


# ---------------------------------------------------------------- entries of the inbox that are not read

def test_links_hidden_and_special_entries_are_each_named(scheme, inbox, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(inbox / FILES["T02"], outside / "elsewhere.xlsx")
    (inbox / FILES["T02"]).unlink()
    os.symlink(outside / "elsewhere.xlsx", inbox / FILES["T02"])  # T02's "file" is a link
    os.symlink(outside, inbox / "共享文件夹")
    (inbox / "快捷方式.lnk").write_bytes(b"L\x00\x00\x00" + b"\x00" * 60)
    (inbox / ".隐藏.xlsx").write_bytes((inbox / FILES["D01"]).read_bytes())
    (inbox / ".git").mkdir()
    (inbox / ".git" / "x.xlsx").write_bytes(b"x")
    (inbox / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (inbox / f"._{T01}").write_bytes(b"\x00\x05\x16\x07")  # macOS AppleDouble beside a copied file
    if hasattr(os, "mkfifo"):
        os.mkfifo(inbox / "管道")
    before = digest(inbox)
    result = read_inbox(inbox, workers=1)
    validated = validate(scheme, result)
    table = validated.issues_table.set_index("file")
    assert table.loc[FILES["T02"], "code"] == "link_in_inbox" and table.loc[FILES["T02"], "severity"] == "错误"
    assert "请把文件本身放入收件箱" in table.loc[FILES["T02"], "message"]
    assert table.loc["共享文件夹", "code"] == "link_in_inbox" and "文件夹" in table.loc["共享文件夹", "message"]
    assert table.loc["快捷方式.lnk", "code"] == "link_in_inbox"
    assert table.loc[".隐藏.xlsx", "code"] == "hidden_entry" and table.loc[".隐藏.xlsx", "severity"] == "警告"
    assert table.loc[".git", "code"] == "hidden_entry"
    if hasattr(os, "mkfifo"):  # opening a pipe would hang the run: it is named, never opened
        assert table.loc["管道", "code"] == "not_a_regular_file"
    assert ".DS_Store" not in table.index and f"._{T01}" not in table.index  # made by the OS: nothing to do
    assert {".DS_Store", f"._{T01}", ".git"} <= set(result.skipped)
    # the link was not followed: nothing from outside the inbox was read, T02 is missing and says why
    assert "elsewhere.xlsx" not in {r.name for r in result.files}
    assert "T02" in set(validated.missing_units["unit_code"])
    assert digest(inbox) == before


def test_files_not_read_are_listed_in_the_manifest_but_not_copied(pristine, tmp_path, monkeypatch):
    inbox = Path(shutil.copytree(pristine[1], tmp_path / "inbox"))
    size = max(p.stat().st_size for p in inbox.iterdir()) + 1000
    (inbox / "大文件.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * size)
    os.symlink(inbox / T01, inbox / "链接.xlsx")
    (inbox / ".隐藏.xlsx").write_bytes(b"hidden")
    limits = ReadLimits(max_file_bytes=size)  # "大文件" is just over it (a 5 GB file, scaled down)
    real_iter = read_module.iter_inbox
    monkeypatch.setattr(read_module, "iter_inbox", lambda folder, workers=None, progress=None:
                        real_iter(folder, workers, limits, progress))
    outcome = run(inbox, pristine[2], out_root=tmp_path / "out", allow_errors=True, issued_on=date(2025, 1, 20),
                  template_dir=tmp_path / "none", workers=1)
    manifest = json.loads((outcome.folder / "manifest.json").read_text(encoding="utf-8"))
    inputs = {item["name"]: item for item in manifest["inputs"]}
    copied = {p.name for p in (outcome.folder / "inputs").rglob("*") if p.is_file()}
    for name in ("大文件.xlsx", "链接.xlsx", ".隐藏.xlsx"):
        assert name not in copied and inputs[name]["not_copied"], name
    assert inputs["大文件.xlsx"]["size"] == size + 4 and "未复制" in inputs["大文件.xlsx"]["not_copied"]
    assert T01 in copied and not inputs[T01].get("not_copied")


# ---------------------------------------------------------------- nothing from a file acts on the terminal

ESCAPES = "\x1b[2J\x1b]8;;http://x\x07"


def test_escape_sequences_never_reach_the_terminal(tmp_path, pristine):
    inbox = Path(shutil.copytree(pristine[1], tmp_path / "inbox"))
    # typed text as a real file stores it: a control character as _xHHHH_, which calamine decodes
    stored = ESCAPES.replace("\x1b", "_x001B_").replace("\x07", "_x0007_")
    fill_unit(inbox / T01, {"A1": "九十" + stored + "\u202e"})  # not a number: the message quotes the text
    shutil.copyfile(inbox / FILES["D01"], inbox / "坏\x1b[31m名\u202e.xlsx")
    before = digest(inbox)
    outcome = CliRunner().invoke(app, ["check", str(inbox), "--scheme", str(pristine[2]), "--report", str(tmp_path / "r.xlsx")])
    assert outcome.exit_code == 1, outcome.output
    text = outcome.output
    assert not any(ch in text for ch in "\x1b\x07\u202e"), repr(text)
    assert "九十\\x1b[2J\\x1b]8;;http://x\\x07\\u202e" in text.replace("\n", "").replace("│", "").replace(" ", "")
    assert "坏\\x1b[31m名\\u202e.xlsx" in text  # shown, visibly, not acted on
    assert digest(inbox) == before


def test_exception_lines_and_tracebacks_are_filtered(tmp_path):
    missing = tmp_path / "收件箱\x1b[2J"
    outcome = CliRunner().invoke(app, ["check", str(missing), "--scheme", str(SAMPLE_SCHEME), "--verbose"])
    assert outcome.exit_code == 2
    assert "\x1b" not in outcome.output and "收件箱\\x1b[2J" in outcome.output


def test_print_line_keeps_a_file_name_on_one_line(capsys):
    from kaohe_excel import console

    console.print_line("文件缺失：a.xlsx\n共读取 1 个文件：未发现错误")
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and "\\x0a" in printed


# ---------------------------------------------------------------- templates run no code

PAYLOAD = "{{ cycler.__init__.__globals__.os.popen('touch %s').read() }}"


def test_a_notice_template_cannot_run_a_command(tmp_path, pristine):
    marker = tmp_path / "pwned"
    templates = tmp_path / "templates"
    templates.mkdir()
    template = build_notice_template(templates / "通报.docx")
    document = Document(str(template))
    document.add_paragraph(PAYLOAD % marker)
    document.save(str(template))
    out = tmp_path / "out"
    with pytest.raises(NoticeTemplateError) as caught:
        run(pristine[1], pristine[2], out_root=out, allow_errors=True, issued_on=date(2025, 1, 20),
            template_dir=templates, workers=1)
    assert not marker.exists()
    assert f"通报模板「{template}」含有不允许的写法" in str(caught.value) and "没有被执行" in str(caught.value)
    assert not (out / "2024").exists()  # nothing half-written


def test_the_cli_stops_with_exit_2_on_a_hostile_notice_template(tmp_path, pristine, monkeypatch):
    marker = tmp_path / "pwned"
    templates = tmp_path / "templates"
    templates.mkdir()
    template = build_notice_template(templates / "通报.docx")
    document = Document(str(template))
    document.add_paragraph(PAYLOAD % marker)
    document.save(str(template))
    monkeypatch.chdir(tmp_path)  # run looks for templates/通报.docx in the working folder
    outcome = CliRunner().invoke(app, ["run", str(pristine[1]), "--scheme", str(pristine[2]), "--out", str(tmp_path / "out"),
                                       "--allow-errors"])
    assert outcome.exit_code == 2, outcome.output
    assert "错误：通报模板" in outcome.output and "不允许的写法" in outcome.output
    assert not marker.exists()


def test_an_ordinary_notice_template_still_renders(tmp_path, pristine):
    templates = tmp_path / "templates"
    templates.mkdir()
    template = build_notice_template(templates / "通报.docx")
    document = Document(str(template))
    document.add_paragraph("共 {{ ranked|length if ranked is defined else '' }}{{ title|upper }}")
    document.save(str(template))
    outcome = run(pristine[1], pristine[2], out_root=tmp_path / "out", allow_errors=True, issued_on=date(2025, 1, 20),
                  template_dir=templates, workers=1)
    assert (outcome.folder / "通报.docx").is_file()


def test_a_mail_template_cannot_run_a_command(tmp_path):
    from kaohe_excel.base.errors import MailConfigError
    from kaohe_excel.outputs.mail import render_template

    marker = tmp_path / "pwned"
    (tmp_path / "mail_unit.txt.j2").write_text("主题：{{ 考核名称 }}\n" + PAYLOAD % marker + "\n", encoding="utf-8")
    with pytest.raises(MailConfigError, match="mail_unit.txt.j2 含有不允许的写法"):
        render_template("mail_unit.txt.j2", {"考核名称": "测试"}, tmp_path)
    assert not marker.exists()
