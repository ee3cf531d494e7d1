"""Messages a user reads once: the cause, not its consequences."""

from __future__ import annotations

from openpyxl import load_workbook
from typer.testing import CliRunner

from kaohe_excel.cli import app
from kaohe_excel.scheme.workbook import load_scheme
from conftest import make_inbox

runner = CliRunner()


def test_history_of_an_unknown_unit_says_so(tmp_path, small_scheme_path):
    inbox = make_inbox(tmp_path / "inbox", load_scheme(small_scheme_path))
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(inbox), "--scheme", str(small_scheme_path), "--out", str(out)]).exit_code == 0
    unknown = runner.invoke(app, ["history", "--unit", "XZ99", "--out", str(out)])
    assert unknown.exit_code == 2
    assert "没有单位「XZ99」" in unknown.output
    known = runner.invoke(app, ["history", "--unit", "T01", "--out", str(out)])
    assert known.exit_code == 0 and "东城镇" in known.output


def _scheme_error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("  「")]


def test_a_missing_sheet_is_reported_once(tmp_path, small_scheme_path):
    workbook = load_workbook(small_scheme_path)
    del workbook["单位"]
    broken = tmp_path / "方案.xlsx"
    workbook.save(broken)
    result = runner.invoke(app, ["template", "--scheme", str(broken), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert _scheme_error_lines(result.output) == ["  「单位」表：缺少工作表「单位」"], result.output


def test_a_missing_header_is_reported_once_naming_it(tmp_path, small_scheme_path):
    workbook = load_workbook(small_scheme_path)
    sheet = workbook["指标"]
    for cell in sheet[1]:
        if cell.value == "适用类别":
            cell.value = "类别"
    broken = tmp_path / "方案.xlsx"
    workbook.save(broken)
    result = runner.invoke(app, ["template", "--scheme", str(broken), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = _scheme_error_lines(result.output)
    assert len(lines) == 1 and "「指标」表" in lines[0] and "第1行缺少：适用类别" in lines[0], result.output


def test_an_empty_inbox_is_said_once(tmp_path, small_scheme_path):
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    (inbox / "说明.txt").write_text("不是表格", encoding="utf-8")
    for command in ("check", "run"):
        result = runner.invoke(app, [command, str(inbox), "--scheme", str(small_scheme_path), "--out", str(tmp_path / "o")])
        assert result.exit_code == 2
        assert result.output.count("收件箱里没有 Excel 文件") == 1, result.output
        assert "未报送" not in result.output
