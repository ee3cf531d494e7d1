"""The user documentation lives in the repository: the scheme guide covers everything the loader
accepts, every command has help and a docs entry, and no document points outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kaohe_excel.scoring import methods
from kaohe_excel.scoring import period_scoring
from kaohe_excel.scheme import workbook as scheme
from kaohe_excel.cli import app

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "scheme-guide.md"
runner = CliRunner()


def accepted_names() -> dict[str, list[str]]:
    """Every sheet, column, 方案 item and spelled value scheme.py accepts, read from its own tables."""
    return {
        "sheets": list(scheme.CONTRACT_SHEETS),
        "方案 items": list(scheme.META_KEYS) + [period_scoring.PROGRESS_TOLERANCE_KEY, "主送"],
        "方案 header": ["项目", "值"],
        "等次": list(scheme.GRADE_COLUMNS),
        "单位": list(scheme.UNIT_COLUMNS),
        "指标": list(scheme.INDICATOR_COLUMNS),
        "目标分解": list(scheme.TARGET_COLUMNS),
        "档次表": list(scheme.TIER_COLUMNS),
        "权重": list(scheme.WEIGHT_COLUMNS),
        "加扣分": list(scheme.ADJUSTMENT_COLUMNS),
        "计分方法": methods.names(),
        "values": [k for mapping in (scheme.DIRECTIONS, scheme.SOURCES, scheme.MISSING_RULES, scheme.TOTAL_MODES,
                                     scheme.VETO_EFFECTS, scheme.ADJUSTMENT_KINDS) for k in mapping if k]
                  + [scheme.ALL_GROUPS, "年度", "季度", "月度", "是", "否"],
    }


def test_guide_names_every_sheet_column_and_value_the_loader_accepts():
    text = GUIDE.read_text(encoding="utf-8")
    missing = {part: [name for name in names if name not in text] for part, names in accepted_names().items()}
    missing = {part: names for part, names in missing.items() if names}
    assert not missing, f"docs/scheme-guide.md does not mention: {missing}"


def test_guide_gives_a_worked_example_for_every_method_both_directions():
    text = GUIDE.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### ([^\n]+)\n(.*?)(?=^### |^## |\Z)", text, re.S | re.M))
    for method in methods.names():
        label = method if method != "扣分" else "扣分（作为指标）"
        assert label in sections, f"no section for {method}"
        assert re.search(r"\*\*\d+\.\d\d\*\*", sections[label]), f"{method}: no worked number"
        if method not in ("定性", "扣分"):  # the tier table / the count set the order there
            assert "反向" in sections[label], f"{method}: no 反向 example"
    for topic in ("原始分", "百分制（不考核按归一化）", "缺项处理 = 均值", "权重", "一票否决", "四舍五入"):
        assert topic in sections, topic


def test_methods_doc_lists_every_registered_method_from_the_registry():
    text = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- methods registry: begin -->\n(.*?)<!-- methods registry: end -->", text, re.S)
    assert block, "docs/methods.md lost its registry block"
    assert block.group(1) == methods.docs_table(), "regenerate the block from kaohe_excel.scoring.methods.docs_table()"
    for name, method in methods.METHODS.items():
        assert f"| {name} | {method.description} |" in block.group(1)


def repo_docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", repo_docs(), ids=lambda p: p.name)
def test_no_document_points_outside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "../shared" not in text and "shared/domain.md" not in text, path.name
    for target in re.findall(r"\]\(([^)#]+)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        resolved = (path.parent / target).resolve()
        assert ROOT in resolved.parents or resolved == ROOT, f"{path.name} links outside: {target}"
        assert resolved.exists(), f"{path.name} links to a missing file: {target}"


def command_names() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)


def test_every_command_has_help_text_and_a_docs_entry():
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    import typer.main

    group = typer.main.get_command(app)
    for name in command_names():
        command = group.commands[name]
        assert command.help and re.search(r"[\u4e00-\u9fff]", command.help), f"{name} has no Chinese help"
        for param in command.params:
            assert getattr(param, "help", None), f"{name}: {param.name} has no help text"
        assert f"## kaohe {name}" in docs, f"docs/cli.md has no entry for {name}"


def test_readme_first_screen_has_the_two_commands_and_the_guide():
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:40])
    assert "python3 -m pip install -e . && kaohe run sample_inputs" in first_screen
    assert 'python3 -m pip install -e ".[test]" && python3 -m pytest' in first_screen
    assert "docs/scheme-guide.md" in first_screen
    assert "py -m venv" in first_screen
