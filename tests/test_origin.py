"""Proof of origin: forged office workbooks, edited unit identities and competing files never
change a score; the office key is found without options and never leaves its own file.

Scores below are computed by hand from the small scheme of conftest.py (原始分):
A1 40 points 完成率 target 100 (T02: 80); B1 20 points 完成率 target 90 (评定).
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from inbox_helpers import fill_unit
from kaohe_excel.base import origin
from kaohe_excel.jobs import pipeline
from kaohe_excel.cli import app
from kaohe_excel.base.errors import OfficeKeyError
from kaohe_excel.inputs.read import read_inbox
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.outputs.template import write_lead_workbooks
from kaohe_excel.inputs.validate import validate
from conftest import ASSESSED, FILES, make_inbox, UNIT_VALUES

runner = CliRunner()


@pytest.fixture
def scheme(small_scheme_path):
    return load_scheme(small_scheme_path)


@pytest.fixture
def inbox(tmp_path, scheme):
    return make_inbox(tmp_path / "inbox", scheme)


def checked(scheme, inbox):
    validated = validate(scheme, read_inbox(inbox, workers=1))
    scored = pipeline.score_period(scheme, validated).scored.set_index(["unit_code", "indicator_code"])
    return validated, scored


def issues_of(validated, code):
    table = validated.issues_table
    return table[table["code"] == code]


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def self_made_assessment(path: Path, value: float, meta: list[tuple[str, str]] | None = None) -> Path:
    """What a unit could type itself: the 评定 sheet's headers, every row at `value`."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "评定"
    sheet.append(["单位代码", "指标代码", "评定值", "说明"])
    for (unit, code), real in ASSESSED.items():
        sheet.append([unit, code, value if code == "B1" else real, "考核办提供"])
    if meta is not None:
        hidden = workbook.create_sheet("_kaohe")
        hidden.append(["项目", "值"])
        for row in meta:
            hidden.append(list(row))
        hidden.sheet_state = "hidden"
    workbook.save(path)
    return path


def meta_rows(path: Path) -> list[tuple[str, str]]:
    sheet = load_workbook(path)["_kaohe"]
    return [(r[0].value, r[1].value) for r in sheet.iter_rows(min_row=2)]


def set_meta(path: Path, key: str, value: str) -> None:
    workbook = load_workbook(path)
    for row in workbook["_kaohe"].iter_rows():
        if row[0].value == key:
            row[1].value = value
    workbook.save(path)


def set_header(path: Path, label: str, value: str) -> None:
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    for row in sheet.iter_rows(max_row=10):
        for cell in row:
            if cell.value == label:
                sheet.cell(cell.row, cell.column + 1).value = value
    workbook.save(path)


# ---------------------------------------------------------------- forged office workbooks

def test_self_made_assessment_without_proof_is_an_error_and_unused(scheme, inbox):
    # Sorted before the genuine 评定表.xlsx: name order must not matter.
    forged = self_made_assessment(inbox / "0评定表.xlsx", 45)
    before = digest(inbox)
    validated, scored = checked(scheme, inbox)
    found = issues_of(validated, "origin_missing")
    assert list(found["file"]) == [forged.name] and list(found["severity"]) == ["错误"]
    assert "校验码" in found.iloc[0]["message"] and "未采用" in found.iloc[0]["message"]
    # the genuine 92 of 90 scores the full 20 points; the forged 45 would give 20 × 45 / 90 = 10
    assert scored.loc[("T01", "B1"), "score"] == 20.0
    assert set(validated.values.loc[validated.values["indicator_code"] == "B1", "file"]) == {"评定表.xlsx"}
    assert issues_of(validated, "duplicate_submission").empty
    assert digest(inbox) == before


def test_self_made_assessment_alone_scores_nothing(scheme, inbox):
    (inbox / "评定表.xlsx").unlink()
    self_made_assessment(inbox / "评定表.xlsx", 90)
    validated, scored = checked(scheme, inbox)
    assert list(issues_of(validated, "origin_missing")["file"]) == ["评定表.xlsx"]
    assert len(issues_of(validated, "missing_assessment")) == 1
    assert scored.loc[("T01", "B1"), "status"] == "unscored"
    assert not (validated.values["indicator_code"] == "B1").any()


def test_assessment_with_a_made_up_code_is_forged(scheme, inbox):
    identity = [row for row in meta_rows(inbox / "评定表.xlsx") if row[0] != origin.CODE_ROW]
    forged = self_made_assessment(inbox / "0评定表.xlsx", 45, identity + [(origin.CODE_ROW, "ab" * 32)])
    validated, scored = checked(scheme, inbox)
    found = issues_of(validated, "origin_forged")
    assert list(found["file"]) == [forged.name] and found.iloc[0]["severity"] == "错误"
    assert scored.loc[("T01", "B1"), "score"] == 20.0


def test_self_made_lead_workbook_is_unused(tmp_path, scheme, inbox):
    forged = Workbook()
    sheet = forged.active
    sheet.title = "核定"
    sheet.append(["单位代码", "指标代码", "核定值", "说明"])
    sheet.append(["T01", "A1", 100, "统计年报"])
    hidden = forged.create_sheet("_kaohe")
    for row in [("项目", "值"), ("文件类型", "牵头单位核定表"), ("牵头单位", "统计局"), ("考核周期", "2024"),
                ("方案指纹", scheme.fingerprint)]:
        hidden.append(list(row))
    forged.save(inbox / "核定表_统计局.xlsx")
    validated, scored = checked(scheme, inbox)
    assert list(issues_of(validated, "origin_missing")["file"]) == ["核定表_统计局.xlsx"]
    assert validated.verified.empty
    # T01's own 95 of 100 is scored: 40 × 0.95 = 38; the forged 100 would give 40
    assert scored.loc[("T01", "A1"), "score"] == 38.0


def test_genuine_lead_workbook_with_edited_department_is_forged(tmp_path, scheme, inbox):
    made = write_lead_workbooks(scheme, tmp_path / "lead")
    path = next(p for p in made if p.name == "核定表_统计局.xlsx")
    workbook = load_workbook(path)
    workbook["核定"]["G4"] = 100  # the first row is T01 × A1
    workbook.save(path)
    shutil.copyfile(path, inbox / path.name)
    genuine, scored = checked(scheme, inbox)
    assert genuine.error_count == 0 and scored.loc[("T01", "A1"), "score"] == 40.0  # a proven 核定值 is scored
    set_meta(inbox / path.name, "牵头单位", "发改局")
    validated, scored = checked(scheme, inbox)
    assert list(issues_of(validated, "origin_forged")["file"]) == [path.name]
    assert scored.loc[("T01", "A1"), "score"] == 38.0


# ---------------------------------------------------------------- unit templates

def test_unit_template_claiming_another_unit_is_an_error(scheme, inbox):
    forged = inbox / "0_T01.xlsx"
    shutil.copyfile(inbox / FILES["T02"], forged)
    fill_unit(forged, {"A1": 10})
    set_meta(forged, "单位代码", "T01")
    set_header(forged, "单位代码", "T01")
    validated, scored = checked(scheme, inbox)
    found = issues_of(validated, "origin_forged")
    assert list(found["file"]) == ["0_T01.xlsx"] and found.iloc[0]["severity"] == "错误"
    assert "单位代码" in found.iloc[0]["message"]
    assert scored.loc[("T01", "A1"), "score"] == 38.0  # the genuine 95, not the forged 10
    assert issues_of(validated, "duplicate_submission").empty


def copied_table(source: Path, target: Path, values: dict[str, object]) -> Path:
    """The 填报 sheet's cells copied into a new workbook (no hidden sheet), with other values."""
    original = load_workbook(source)["填报"]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "填报"
    for row in original.iter_rows():
        for cell in row:
            if cell.value is not None:
                sheet[cell.coordinate] = cell.value
    workbook.save(target)
    return fill_unit(target, values)


def test_copied_table_never_displaces_the_genuine_file(scheme, inbox):
    copy = copied_table(inbox / FILES["T01"], inbox / "0_T01_东城镇.xlsx", {"A1": 100, "A2": 9, "C2": 0.45})
    validated, scored = checked(scheme, inbox)
    assert validated.error_count == 0, validated.issues_table.to_string()
    displaced = issues_of(validated, "origin_displaced")
    assert list(displaced["file"]) == [copy.name] and list(displaced["severity"]) == ["警告"]
    assert FILES["T01"] in displaced.iloc[0]["message"]
    assert scored.loc[("T01", "A1"), "score"] == 38.0  # 95 from the genuine file; the copy's 100 would give 40
    status = validated.submissions.set_index("file")["status"]
    assert status[copy.name] == "unused" and status[FILES["T01"]] == "read"


def test_copied_table_alone_is_read_with_a_warning(scheme, inbox):
    copied_table(inbox / FILES["T01"], inbox / "T01_副本.xlsx", {"A1": 100, "A2": 9, "C2": 0.45})
    (inbox / FILES["T01"]).unlink()
    validated, scored = checked(scheme, inbox)
    assert validated.error_count == 0
    assert list(issues_of(validated, "not_our_template")["file"]) == ["T01_副本.xlsx"]
    assert scored.loc[("T01", "A1"), "score"] == 40.0


def test_two_candidates_for_one_unit_leave_it_unscored_even_with_allow_errors(tmp_path, small_scheme_path, scheme, inbox):
    second = inbox / "T01_东城镇(最终版).xlsx"
    shutil.copyfile(inbox / FILES["T01"], second)
    fill_unit(second, {"A1": 50})
    before = digest(inbox)
    outcome = pipeline.run(inbox, small_scheme_path, out_root=tmp_path / "outputs", allow_errors=True)
    validated = outcome.results.validated
    found = issues_of(validated, "duplicate_submission")
    assert len(found) == 1 and found.iloc[0]["unit"] == "T01" and found.iloc[0]["severity"] == "错误"
    assert FILES["T01"] in found.iloc[0]["message"] and second.name in found.iloc[0]["message"]
    assert "未计分" in found.iloc[0]["message"]
    scored = outcome.results.scored.set_index(["unit_code", "indicator_code"])
    assert {scored.loc[("T01", code), "status"] for code in ("A1", "A2", "C2")} == {"unscored"}
    assert not (validated.values["unit_code"].eq("T01") & validated.values["indicator_code"].eq("A1")).any()
    assert "T01" not in set(validated.missing_units["unit_code"])  # it did submit: the error says why unscored
    assert scored.loc[("T02", "A1"), "score"] == 40.0  # 85 of its own target 80, capped at 1
    assert digest(inbox) == before


def test_two_genuine_assessment_workbooks_are_both_unused(scheme, inbox):
    shutil.copyfile(inbox / "评定表.xlsx", inbox / "0评定表.xlsx")
    validated, scored = checked(scheme, inbox)
    found = issues_of(validated, "duplicate_submission")
    assert len(found) == 1 and "0评定表.xlsx" in found.iloc[0]["message"]
    assert scored.loc[("T01", "B1"), "status"] == "unscored"
    assert issues_of(validated, "missing_assessment").empty


# ---------------------------------------------------------------- the key

def test_signature_covers_every_identity_row_and_nothing_else(tmp_path):
    key = origin.OfficeKey(b"k" * 32, tmp_path / "k")
    meta = {"文件类型": "单位填报表", "考核周期": "2024", "方案指纹": "f" * 64, "单位代码": "T01", "考核名称": "甲"}
    signed = {**meta, origin.CODE_ROW: origin.sign(key, meta)}
    assert origin.verify(key, signed) == origin.GENUINE
    assert origin.verify(key, {**signed, "考核名称": "乙"}) == origin.GENUINE  # not an identity row
    for name in ("文件类型", "考核周期", "方案指纹", "单位代码"):
        assert origin.verify(key, {**signed, name: "X"}) == origin.FORGED, name
    assert origin.verify(key, {**signed, "牵头单位": "统计局"}) == origin.FORGED  # an added identity row
    assert origin.verify(origin.OfficeKey(b"o" * 32, tmp_path / "o"), signed) == origin.FORGED
    assert origin.verify(key, meta) == origin.UNSIGNED


def key_hex(path: Path) -> str:
    return next(line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#"))


def unpacked(folder: Path) -> bytes:
    chunks = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                chunks += [archive.read(name) for name in archive.namelist()]
        chunks.append(data)
    return b"\n".join(chunks)


def test_template_check_and_run_find_the_key_without_options(tmp_path, small_scheme_path, monkeypatch):
    # No override: the per-user configuration folder (a tmp HOME here) is used and created once.
    monkeypatch.delenv(origin.KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    key_path = tmp_path / "config" / "kaohe" / "office.key"
    inbox = tmp_path / "收件箱"
    made = runner.invoke(app, ["template", "--scheme", str(small_scheme_path), "--out", str(inbox)])
    assert made.exit_code == 0, made.output
    assert "已新建考核办密钥" in made.output and "备份" in made.output and key_path.is_file()
    secret = key_hex(key_path)
    again = runner.invoke(app, ["template", "--scheme", str(small_scheme_path), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0 and "已新建" not in again.output and key_hex(key_path) == secret
    for unit, values in UNIT_VALUES.items():
        fill_unit(inbox / FILES[unit], values)
    from inbox_helpers import fill_assessment

    fill_assessment(inbox / "评定表.xlsx", ASSESSED)
    check = runner.invoke(app, ["check", str(inbox), "--scheme", str(small_scheme_path), "--out", str(tmp_path / "out")])
    assert check.exit_code == 0, check.output
    run = runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    # the secret is in no file the tool wrote: templates, reports, results
    for folder in (inbox, tmp_path / "out"):
        assert secret.encode() not in unpacked(folder)


def test_without_the_key_check_cannot_run(tmp_path, small_scheme_path, inbox, monkeypatch):
    monkeypatch.setenv(origin.KEY_ENV, str(tmp_path / "elsewhere" / "office.key"))
    result = runner.invoke(app, ["check", str(inbox), "--scheme", str(small_scheme_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "找不到考核办密钥" in result.output and "Traceback" not in result.output


def test_another_key_rejects_every_file(tmp_path, scheme, inbox, monkeypatch):
    monkeypatch.setenv(origin.KEY_ENV, str(tmp_path / "new.key"))
    origin.ensure_key(scheme)  # the key was lost and a new one made: what was sent out no longer verifies
    validated = validate(scheme, read_inbox(inbox, workers=1))
    assert sorted(issues_of(validated, "origin_forged")["file"]) == sorted(list(FILES.values()) + ["评定表.xlsx"])


def test_key_inside_inbox_or_outputs_is_refused(tmp_path, small_scheme_path, inbox, monkeypatch):
    monkeypatch.setenv(origin.KEY_ENV, str(inbox / "office.key"))
    result = runner.invoke(app, ["check", str(inbox), "--scheme", str(small_scheme_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "收件箱" in result.output
    monkeypatch.setenv(origin.KEY_ENV, str(tmp_path / "模板" / "office.key"))
    made = runner.invoke(app, ["template", "--scheme", str(small_scheme_path), "--out", str(tmp_path / "模板")])
    assert made.exit_code == 2 and not (tmp_path / "模板" / "office.key").exists()


def test_kaohe_toml_names_a_shared_key_file(tmp_path, scheme, monkeypatch):
    monkeypatch.delenv(origin.KEY_ENV, raising=False)
    (tmp_path / "kaohe.toml").write_text('[office_key]\npath = "密钥/office.key"\n', encoding="utf-8")
    location = origin.key_location(scheme, cwd=tmp_path)
    assert location.path == tmp_path / "密钥" / "office.key" and not location.demo


def test_scheme_row_selects_only_the_demo_key(tmp_path, scheme):
    demo = scheme
    demo.meta.extra[origin.SCHEME_KEY_ROW] = origin.DEMO_KEY_VALUE
    assert origin.key_location(demo).demo and origin.find_key(demo).demo
    demo.meta.extra[origin.SCHEME_KEY_ROW] = str(tmp_path / "my.key")
    with pytest.raises(OfficeKeyError, match="演示密钥"):
        origin.key_location(demo)


def test_sample_scheme_signs_with_the_demo_key_and_says_so(tmp_path, monkeypatch):
    from kaohe_excel.samples.county import build_sample_scheme

    monkeypatch.setenv(origin.KEY_ENV, str(tmp_path / "office.key"))
    scheme_path = build_sample_scheme(tmp_path / "scheme.xlsx")
    made = runner.invoke(app, ["template", "--scheme", str(scheme_path), "--out", str(tmp_path / "模板"), "--unit", "XZ01"])
    assert made.exit_code == 0, made.output
    assert "演示密钥" in made.output and "已新建" not in made.output
    assert not (tmp_path / "office.key").exists()  # the office's own key is neither made nor used
    meta = dict(meta_rows(tmp_path / "模板" / "XZ01_城关镇.xlsx"))
    assert origin.verify(origin.find_key(load_scheme(scheme_path)), meta) == origin.GENUINE
