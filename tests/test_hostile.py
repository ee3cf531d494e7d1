"""Hostile and broken input: every inbox file ends read or as one named issue, the batch
never crashes, inputs are never modified, and text from a unit never acts in an output.

Broken variants are built from our own templates (small scheme in conftest.py); the
real-world odd spreadsheets come from ../shared/corpus (skipped when absent). The fuzz
test runs a few examples by default; KAOHE_FUZZ_EXAMPLES=500 runs a longer campaign.
"""

from __future__ import annotations

import csv
import faulthandler
import hashlib
import io
import os
import shutil
import xml.etree.ElementTree as ET
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils.exceptions import IllegalCharacterError
from typer.testing import CliRunner

from conftest import FILES, make_inbox, small_scheme_sheets, UNIT_VALUES, write_workbook
from inbox_helpers import fill_unit, value_cell
from kaohe_excel.inputs import read as read_module
from kaohe_excel.inputs import zip_parts
from kaohe_excel.cli import app
from kaohe_excel.jobs.pipeline import run
from kaohe_excel.inputs.read import ReadLimits, read_file, read_inbox
from kaohe_excel.base.safety import safe_filename
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.inputs.validate import validate

CORPUS = Path(__file__).resolve().parent.parent / ".." / "shared" / "corpus"
FUZZ_EXAMPLES = int(os.environ.get("KAOHE_FUZZ_EXAMPLES", "8"))
T01 = FILES["T01"]
# Every self-reported value of the clean inbox (3 + 3 + 1) plus the 8 assessed ones.
CLEAN_VALUES = 15


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One filled inbox per module; each test breaks its own copy."""
    folder = tmp_path_factory.mktemp("pristine")
    scheme = load_scheme(write_workbook(folder / "scheme.xlsx", small_scheme_sheets()))
    return scheme, make_inbox(folder / "inbox", scheme)


@pytest.fixture
def scheme(pristine):
    return pristine[0]


@pytest.fixture
def inbox(tmp_path, pristine):
    return Path(shutil.copytree(pristine[1], tmp_path / "inbox"))


def issues_of(validated, file: str):
    table = validated.issues_table
    return table[table["file"] == file]


def check(scheme, inbox, limits: ReadLimits = ReadLimits()):
    return validate(scheme, read_inbox(inbox, workers=1, limits=limits))


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def rewrite_part(path: Path, part: str, change) -> None:
    """Replace one zip member of a workbook with change(old bytes)."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            target.writestr(info.filename, change(data) if info.filename == part else data)


def sheet_part(path: Path, sheet: str) -> str:
    with zipfile.ZipFile(path) as archive:
        parts, _ = zip_parts.sheet_parts(archive, ReadLimits())
    return parts[sheet]


# ---------------------------------------------------------------- broken variants of our template

def _far_cell(path: Path) -> None:
    part = sheet_part(path, "填报")
    rewrite_part(path, part, lambda xml: xml.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>'))


def _docx_renamed(path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        archive.writestr("word/document.xml", "<w:document/>")
    path.write_bytes(buffer.getvalue())


ENCRYPTED_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 600

BROKEN = {
    # name: (how to break T01's file, expected issue code, words the message must contain)
    "zero_bytes": (lambda p: p.write_bytes(b""), "empty_file", "0 字节"),
    "truncated_zip": (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) * 3 // 5]), "unreadable_file", "压缩包不完整"),
    "corrupt_deflate": (lambda p: p.write_bytes(_flip_inside(p.read_bytes())), "unreadable_file", "损坏"),
    "encrypted_ooxml": (lambda p: p.write_bytes(ENCRYPTED_OLE), "encrypted_file", "密码"),
    "docx_renamed": (_docx_renamed, "not_a_spreadsheet", "不是 Excel 工作簿"),
    "pdf_renamed": (lambda p: p.write_bytes(b"%PDF-1.4\n" + b"x" * 200), "unreadable_file", "被改名"),
    "html_export": (lambda p: p.write_bytes("<html><table><tr><td>指标代码</td></tr></table></html>".encode()), "not_a_spreadsheet", "HTML"),
    "absurd_dimensions": (_far_cell, "file_too_large", "数据区过大"),
}


def _flip_inside(data: bytes) -> bytes:
    """Corrupt the compressed bytes of the 填报 sheet (past its local header)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + 40
    return data[:start] + bytes(b ^ 0x5A for b in data[start:start + 64]) + data[start + 64:]


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_broken_file_costs_one_named_issue(scheme, inbox, variant):
    breaker, code, words = BROKEN[variant]
    breaker(inbox / T01)
    validated = check(scheme, inbox)
    mine = issues_of(validated, T01)
    assert list(mine["code"]) == [code], mine.to_string()
    assert words in mine.iloc[0]["message"] and mine.iloc[0]["severity"] == "错误"
    # the four other files are still read: 15 values less T01's three
    assert len(validated.values) == CLEAN_VALUES - 3
    assert "T01" in set(validated.missing_units["unit_code"])


def test_zip_bomb_is_refused_before_unpacking(scheme, inbox):
    # 40 MB of zeros compresses to ~40 KB; with a 10 MB bound it is refused from the zip directory.
    rewrite_part(inbox / T01, "docProps/app.xml", lambda _: b"\x00" * (40 * 1024 * 1024))
    validated = check(scheme, inbox, ReadLimits(max_uncompressed_bytes=10 * 1024 * 1024))
    assert list(issues_of(validated, T01)["code"]) == ["file_too_large"]
    assert len(validated.values) == CLEAN_VALUES - 3


def test_part_larger_than_declared_is_refused(tmp_path):
    path = tmp_path / "lying.xlsx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<sheetData>" + b" " * 100_000 + b"</sheetData>")
    data = bytearray(buffer.getvalue())
    # Patch the declared size (central directory) of the sheet down to 100 bytes.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"xl/worksheets/sheet1.xml"))
    data[central + 24:central + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    result = read_file(path)
    assert [i.code.value for i in result.issues] == ["unreadable_file"], info


def test_cell_count_and_rows_are_bounded_by_settings(scheme, inbox):
    # the template's 填报 sheet has 15 columns: a 10-column limit refuses it, nothing is parsed
    validated = check(scheme, inbox, ReadLimits(max_columns=10))
    assert set(validated.issues_table.loc[validated.issues_table["code"] == "file_too_large", "file"]) == set(FILES.values()) | {"评定表.xlsx"}
    assert len(validated.values) == 0


def test_legacy_and_wps_files_read_in_a_child_or_say_why(scheme, inbox):
    (inbox / "旧格式.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000)
    (inbox / "表格.et").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000)
    validated = check(scheme, inbox)
    assert list(issues_of(validated, "旧格式.xls")["code"]) == ["unreadable_file"]
    et = issues_of(validated, "表格.et")
    assert list(et["code"]) == ["legacy_format"] and "另存为 .xlsx" in et.iloc[0]["message"]
    assert len(validated.values) == CLEAN_VALUES


def test_a_parser_that_hangs_or_aborts_costs_its_own_file(scheme, inbox, monkeypatch):
    import time

    (inbox / "卡住.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    (inbox / "崩溃.ods").write_bytes(_ods_bytes())
    real_parse = read_module._parse

    def hostile_parse(data, result, limits, container):
        if container == "xls":
            time.sleep(30)
        if container == "ods":
            faulthandler.disable()
            os.abort()  # what calamine does when an allocation fails
        return real_parse(data, result, limits, container)

    monkeypatch.setattr(read_module, "_parse", hostile_parse)  # the forked child inherits it
    started = time.monotonic()
    validated = check(scheme, inbox, ReadLimits(timeout_seconds=1.5))
    assert time.monotonic() - started < 20
    assert "读取超时" in issues_of(validated, "卡住.xls").iloc[0]["message"]
    assert "异常退出" in issues_of(validated, "崩溃.ods").iloc[0]["message"]
    assert len(validated.values) == CLEAN_VALUES


def test_a_worker_crash_in_the_pool_costs_only_the_culprit(tmp_path, pristine, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for index in range(70):  # enough for the process pool
        (inbox / f"说明{index:02d}.txt").write_text("不是表格", encoding="utf-8")
    shutil.copyfile(pristine[1] / T01, inbox / "坏.xlsx")
    shutil.copyfile(pristine[1] / FILES["T02"], inbox / "好.xlsx")
    real_parse = read_module._parse

    def hostile_parse(data, result, limits, container):
        if result.name == "坏.xlsx":
            faulthandler.disable()  # keep the test log quiet: the crash is the point
            os.abort()  # kills the pool worker, then the isolated child
        return real_parse(data, result, limits, container)

    monkeypatch.setattr(read_module, "_parse", hostile_parse)  # forked workers inherit it
    result = read_inbox(inbox, workers=2)
    by_name = {r.name: r for r in result.files}
    assert len(by_name) == 72
    assert "异常退出" in by_name["坏.xlsx"].issues[0].message
    assert by_name["好.xlsx"].readable and by_name["好.xlsx"].kind == "单位填报表"


def test_far_cell_in_a_large_inbox_is_refused_whatever_reads_it(tmp_path, pristine):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for index in range(70):
        (inbox / f"说明{index:02d}.txt").write_text("不是表格", encoding="utf-8")
    shutil.copyfile(pristine[1] / T01, inbox / "远.xlsx")
    _far_cell(inbox / "远.xlsx")
    shutil.copyfile(pristine[1] / FILES["T02"], inbox / "好.xlsx")
    by_name = {r.name: r for r in read_inbox(inbox, workers=2).files}
    assert len(by_name) == 72
    assert [i.code.value for i in by_name["远.xlsx"].issues] == ["file_too_large"]
    assert by_name["好.xlsx"].readable


def _ods_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


def test_encrypted_ods_is_named_as_encrypted(scheme, inbox):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", b"\x8a\x01 encrypted bytes")
        archive.writestr("META-INF/manifest.xml", '<manifest:file-entry><manifest:encryption-data/></manifest:file-entry>')
    (inbox / "加密.ods").write_bytes(buffer.getvalue())
    assert list(issues_of(check(scheme, inbox), "加密.ods")["code"]) == ["encrypted_file"]


def test_lock_files_are_not_units_and_an_open_workbook_is_named(scheme, inbox):
    # Excel's lock beside its workbook: someone has T01 open, what is read is its last save
    (inbox / f"~${T01}").write_bytes(b"\x0bowner name" + b"\x00" * 150)
    (inbox / "~$已删除的表.xlsx").write_bytes(b"\x0bowner name" + b"\x00" * 150)  # stale: its workbook is gone
    result = read_inbox(inbox, workers=1)
    assert {f"~${T01}", "~$已删除的表.xlsx"} <= set(result.skipped)
    validated = validate(scheme, result)
    assert validated.error_count == 0 and len(validated.values) == CLEAN_VALUES
    table = validated.issues_table
    assert list(table.loc[table["file"] == f"~${T01}", "code"]) == ["file_open_elsewhere"]
    assert T01 in table.loc[table["file"] == f"~${T01}", "message"].iloc[0]
    assert "~$已删除的表.xlsx" not in set(table["file"])


def test_inputs_are_hashed_and_never_modified(scheme, inbox):
    BROKEN["truncated_zip"][0](inbox / FILES["T02"])
    before = digest(inbox)
    result = read_inbox(inbox, workers=1)
    assert {r.name: r.sha256 for r in result.files} == before
    assert digest(inbox) == before


# ---------------------------------------------------------------- cell-level oddities

def test_formula_without_cached_value_names_the_cell(scheme, inbox):
    # openpyxl writes formulas without a cached result, as a tool (not Excel) would
    fill_unit(inbox / T01, {"A1": "=90+5"})
    validated = check(scheme, inbox)
    found = validated.issues_table[validated.issues_table["code"] == "formula_without_value"]
    assert list(found["cell"]) == [value_cell(inbox / T01, "A1")]
    assert "=90+5" in found.iloc[0]["message"] and "Excel 或 WPS" in found.iloc[0]["message"]
    assert found.iloc[0]["unit"] == "T01" and found.iloc[0]["indicator"] == "A1"


def test_formula_in_claim_count_is_reported(scheme, inbox):
    fill_unit(inbox / T01, {}, claims=[{"项目代码": "J1", "数量": "=1+1", "佐证材料": "文件"}])
    found = check(scheme, inbox).issues_table
    assert list(found.loc[found["code"] == "formula_without_value", "unit"]) == ["T01"]


@pytest.mark.parametrize("error_text", ["#DIV/0!", "#N/A", "#VALUE!"])
def test_error_values_reach_error_value(scheme, inbox, error_text):
    # openpyxl stores these as real error cells (t="e"), which calamine reads as empty
    fill_unit(inbox / T01, {"A2": error_text})
    with zipfile.ZipFile(inbox / T01) as archive:
        assert b't="e"' in archive.read(sheet_part(inbox / T01, "填报"))
    found = check(scheme, inbox).issues_table
    found = found[found["code"] == "error_value"]
    assert list(found["cell"]) == [value_cell(inbox / T01, "A2")] and error_text in found.iloc[0]["message"]


def test_merged_input_cells_warn_and_the_covered_cell_is_missing(scheme, inbox):
    path = inbox / T01
    top, below = value_cell(path, "A1"), value_cell(path, "A2")
    workbook = load_workbook(path)
    workbook["填报"].protection.sheet = False
    workbook["填报"].merge_cells(f"{top}:{below}")
    workbook.save(path)
    table = check(scheme, inbox).issues_table
    mine = table[table["file"] == T01]
    assert list(mine.loc[mine["code"] == "missing_value", "cell"]) == [below, below]
    warned = mine[(mine["code"] == "missing_value") & (mine["severity"] == "警告")]
    assert f"{top}:{below}" in warned.iloc[0]["message"]


def test_hidden_rows_are_read_but_not_scored(scheme, inbox):
    # issue 12: what the office cannot see is not scored (tests/test_value_guards.py has the rest)
    path = inbox / T01
    workbook = load_workbook(path)
    row = int(value_cell(path, "A2").lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    workbook["填报"].row_dimensions[row].hidden = True
    workbook.save(path)
    validated = check(scheme, inbox)
    table = validated.issues_table
    assert list(table.loc[table["severity"] == "错误", "code"]) == ["hidden_cells"]
    assert bool(validated.values.set_index(["unit_code", "indicator_code"]).loc[("T01", "A2"), "unscored"])


def test_sheets_renamed_and_reordered_are_found_by_header(scheme, inbox):
    path = inbox / T01
    workbook = load_workbook(path)
    workbook["填报"].title = "Sheet1"
    workbook["加扣分"].title = "Sheet2"
    workbook.move_sheet("Sheet1", offset=2)
    workbook.save(path)
    fill_unit_values = UNIT_VALUES["T01"]
    validated = check(scheme, inbox)
    assert validated.error_count == 0, validated.issues_table.to_string()
    values = validated.values.set_index(["unit_code", "indicator_code"])
    assert values.loc[("T01", "A1"), "value"] == fill_unit_values["A1"]
    assert values.loc[("T01", "A1"), "sheet"] == "Sheet1"


def _fill_sheet(path: Path, sheet_name: str, values: dict[str, object]) -> None:
    workbook = load_workbook(path)
    sheet = workbook[sheet_name]
    for address, value in values.items():
        sheet[address] = value
    workbook.save(path)


def test_template_filled_in_another_locale(scheme, inbox):
    path = inbox / T01
    a1, a2 = value_cell(path, "A1"), value_cell(path, "A2")
    _fill_sheet(path, "填报", {a1: "95,5", a2: date(2024, 9, 8)})  # decimal comma; a date
    table = check(scheme, inbox).issues_table
    mine = table[table["file"] == T01].set_index("cell")
    assert mine.loc[a1, "code"] == "normalized_value" and "95.5" in mine.loc[a1, "message"]
    assert mine.loc[a2, "code"] == "not_a_number" and "日期" in mine.loc[a2, "message"]


# ---------------------------------------------------------------- the CLI on real-world odd files

def cli_check(inbox: Path, scheme_path: Path, report: Path):
    return CliRunner().invoke(app, ["check", str(inbox), "--scheme", str(scheme_path), "--report", str(report)])


def report_texts(report: Path) -> set[str]:
    workbook = load_workbook(report, read_only=True)
    return {str(v) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for v in row if v is not None}


def test_every_corpus_file_is_named_and_never_crashes_the_run(tmp_path, small_scheme_path):
    if not CORPUS.is_dir():
        print(f"skipped: corpus folder {CORPUS} is absent")
        pytest.skip("../shared/corpus is absent")
    inbox = tmp_path / "inbox"
    shutil.copytree(CORPUS, inbox, ignore=shutil.ignore_patterns("MANIFEST.tsv"))
    before = digest(inbox)
    report = tmp_path / "out" / "校验问题.xlsx"
    outcome = cli_check(inbox, small_scheme_path, report)
    assert outcome.exit_code in (0, 1), outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.output
    assert "Traceback" not in outcome.output and "程序内部错误" not in outcome.output
    texts = report_texts(report)
    unnamed = [name for name in before if name not in texts]
    assert unnamed == [], unnamed
    assert digest(inbox) == before


# ---------------------------------------------------------------- fuzzing the template bytes and cells

@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    scheme_path = write_workbook(folder / "scheme.xlsx", small_scheme_sheets())
    scheme = load_scheme(scheme_path)
    inbox = make_inbox(folder / "inbox", scheme)
    return scheme_path, (inbox / T01).read_bytes()


def _assert_cli_survives(tmp_path_factory, scheme_path: Path, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("case")
    inbox = folder / "inbox"
    inbox.mkdir()
    (inbox / T01).write_bytes(data)
    report = folder / "report.xlsx"
    outcome = cli_check(inbox, scheme_path, report)
    assert outcome.exit_code in (0, 1), outcome.output
    assert "程序内部错误" not in outcome.output
    result = read_inbox(inbox, workers=1).files[0]  # read as check reads it (in a pool worker)
    # either the file was accepted as a template, or the report says what is wrong with it
    assert (result.readable and result.kind) or T01 in report_texts(report)
    assert (inbox / T01).read_bytes() == data


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=64)),
)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(mutation, min_size=1, max_size=4))
def test_fuzzed_template_bytes(fuzz_base, tmp_path_factory, changes):
    scheme_path, original = fuzz_base
    data = bytearray(original)
    for kind, position, payload in changes:
        position %= max(len(data), 1)
        if kind == "flip":
            if data:
                data[position] ^= payload
        elif kind == "truncate":
            del data[position:]
        else:
            data[position:position] = payload
    _assert_cli_survives(tmp_path_factory, scheme_path, bytes(data))


cell_value = st.one_of(
    st.none(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=300), st.sampled_from(["=1/0", "=A1", "#DIV/0!", "#N/A", "=HYPERLINK(\"http://x\")", "95,5", "８５％", "1e308", "-0"]),
    st.dates(),
)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({"A1": cell_value, "A2": cell_value, "C2": cell_value}), count=cell_value)
def test_fuzzed_cell_values(fuzz_base, tmp_path_factory, values, count):
    scheme_path, original = fuzz_base
    path = tmp_path_factory.mktemp("cells") / T01
    path.write_bytes(original)
    try:
        fill_unit(path, values, claims=[{"项目代码": "J1", "数量": count}])
    except (ValueError, TypeError, IllegalCharacterError):  # openpyxl refuses it: not a file a unit can send
        return
    _assert_cli_survives(tmp_path_factory, scheme_path, path.read_bytes())


# ---------------------------------------------------------------- text from a unit never acts

HOSTILE = [
    "=HYPERLINK(\"http://evil.example\",\"点我\")",
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "<script>&amp;\x07</script>",
    "../../etc/passwd",
    "CON",
    "长" * 400,
]


def test_hostile_strings_stay_inert_in_every_output(tmp_path):
    # T01 T02 D01 D02 (template.py cannot yet write a unit name holding \x07: see the report)
    names = [HOSTILE[0], HOSTILE[5], HOSTILE[3], HOSTILE[4].replace("\x07", "")]
    scheme_path = write_workbook(tmp_path / "scheme.xlsx", small_scheme_sheets())
    book = load_workbook(scheme_path)
    for row, name in enumerate(names, start=2):
        cell = book["单位"].cell(row, 2)
        cell.value, cell.data_type = name, "s"  # text, as Excel keeps a leading '
    book.save(scheme_path)
    scheme = load_scheme(scheme_path)
    assert list(scheme.units["unit_name"]) == names
    inbox = tmp_path / "inbox"
    files = make_inbox(inbox, scheme, values={})
    del files
    templates = {}
    for path in inbox.iterdir():
        meta = {row[0].value: row[1].value for row in load_workbook(path)["_kaohe"].iter_rows()}
        templates[meta.get("单位代码")] = path
    # template file names come from safe_filename(unit name): none may escape the folder
    assert {p.parent for p in templates.values()} == {inbox} and len(templates) == 5
    for index, (unit, path) in enumerate(sorted((code, path) for code, path in templates.items() if code)):
        fill_unit(path, UNIT_VALUES.get(unit, {}))
        book = load_workbook(path)
        sheet = book["填报"]
        for code, text in (("A1", HOSTILE[index]), ("C2", HOSTILE[4 + index % 4])):
            try:
                cell = sheet[value_cell(path, code, "佐证材料")]
            except AssertionError:  # the unit has no such indicator
                continue
            # typed text as a real file carries it: \x07 is stored escaped as _x0007_
            cell.value, cell.data_type = text.replace("\x07", "_x0007_"), "s"
        book.save(path)
    out = tmp_path / "outputs"
    outcome = run(inbox, scheme.path, out_root=out, allow_errors=True, issued_on=date(2025, 1, 20), template_dir=tmp_path / "none", workers=1)
    folder = outcome.folder
    produced = [p for p in folder.rglob("*") if p.is_file()]
    # every output stays inside its period folder, whatever the unit names say
    assert all(p.resolve().is_relative_to(folder.resolve()) for p in produced)
    seen_text, notice_text = set(), ""
    for path in produced:
        if path.suffix == ".xlsx" and "inputs" not in path.parts and "原始" not in path.name:
            workbook = load_workbook(path)
            for sheet in workbook.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")) and not _numeric(cell.value):
                            assert cell.data_type == "s", (path.name, sheet.title, cell.coordinate, cell.value)
                            seen_text.add(cell.value)
        elif path.suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as handle:
                for row in csv.reader(handle):
                    for value in row:
                        assert not value.startswith(("=", "+", "@")) or _numeric(value), (path.name, value)
                        assert not value.startswith("-") or _numeric(value), (path.name, value)
        elif path.suffix == ".docx":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.endswith(".xml"):
                        ET.fromstring(archive.read(name))  # well-formed XML: < & escaped, \x07 dropped
                notice_text += "".join(ET.fromstring(archive.read("word/document.xml")).itertext())
    assert HOSTILE[0] in seen_text  # the formula-looking unit name reached a workbook, as text
    # the names reached the notice as plain text (escaped markup, control character removed)
    assert "<script>&amp;</script>" in notice_text and "../../etc/passwd" in notice_text


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("text", HOSTILE + ["", None, ".", "..", "a/b\\c:d", "COM1.txt", "name. "])
def test_safe_filename_never_escapes(tmp_path, text):
    name = safe_filename(text)
    assert name and "/" not in name and "\\" not in name and ".." not in name
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
    target = tmp_path / name
    target.write_text("x", encoding="utf-8")
    assert target.resolve().parent == tmp_path.resolve()
