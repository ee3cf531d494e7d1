"""The package's dependencies run one way: no import cycle, and no stage importing a later one.

Every import is read with ast from the source, module-level and function-level alike (a
function-local import is a dependency all the same: it only hides the cycle until the call),
relative and absolute.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "kaohe_excel"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Low to high; a module may import its own layer and the ones before it. Storage sits under the
# outputs: they read archived periods (the 纵向 baseline, the history, the dashboard), while the
# archive takes the output writer as a callable and never imports an output.
LAYERS = ["base", "scheme", "inputs", "scoring", "analysis", "storage", "outputs", "jobs", "interface"]
LAYER_OF = {
    **dict.fromkeys(["base.errors", "base.issues", "base.tables", "base.safety", "base.fsguard", "base.memory", "base.hostile", "base.xlsx_meta", "base.number_format", "base.publication",
                     "base.origin", "base.read_rows", "base.text_width", "base.layout"], "base"),
    **dict.fromkeys(["scheme.workbook", "scheme.scheme_cells", "scheme.scheme_sheets", "scheme.scheme_rows", "scheme.rating_scheme", "scheme.source_periods"], "scheme"),
    **dict.fromkeys(["inputs.read", "inputs.rating_read", "inputs.table_guard", "inputs.value_guard", "inputs.validate", "inputs.rating_validate", "inputs.appeal", "inputs.number_text",
                     "inputs.sniff", "inputs.zip_parts", "inputs.empty_inputs", "inputs.sheet_tables", "inputs.row_checks", "inputs.kinds.registry",
                     "inputs.kinds.unit_form", "inputs.kinds.assessment", "inputs.kinds.lead", "inputs.kinds.appeal", "inputs.kinds.rating"], "inputs"),
    **dict.fromkeys(["scoring.score", "scoring.rank", "scoring.interim", "scoring.explain", "scoring.methods.registry", "scoring.methods.mirror", "scoring.methods._inverse",
                     "scoring.period_scoring", "scoring.appeal_changes"], "scoring"),
    **dict.fromkeys(["analysis.gap", "analysis.simulate"], "analysis"),
    **dict.fromkeys(["storage.archive", "storage.archive_lock", "storage.archive_swap", "storage.archive_manifest", "storage.interim_sources"], "storage"),
    **dict.fromkeys(["outputs.report", "outputs.report_values", "outputs.report_xlsx", "outputs.report_extras", "outputs.report_summary", "outputs.report_feedback",
                     "outputs.report_csv", "outputs.notice", "outputs.notice_layout", "outputs.notice_template", "outputs.publicity", "outputs.period_outputs", "outputs.interim_report",
                     "outputs.issue_books", "outputs.appeal_report", "outputs.rating_report", "outputs.sheet_rows", "outputs.total_note", "outputs.rederive", "outputs.template",
                     "outputs.rating_template", "outputs.template_paths", "outputs.mail", "outputs.mail_config", "outputs.mail_compose", "outputs.mail_log", "outputs.mail_smtp",
                     "outputs.period_status", "web.dashboard", "web.views"], "outputs"),
    **dict.fromkeys(["jobs.pipeline", "jobs.verify"], "jobs"),
    **dict.fromkeys(["cli", "cli_zh", "console", "web.app", "web.routes", "web.jobs", "web.security", "web.uploads",
                     "web.folder", "web.page_home", "web.page_inbox", "web.page_check", "web.page_score", "web.page_results",
                     "web.page_history", "web.page_simulate", "web.page_login"], "interface"),
}
# Not placed: progress (the period-id calendar the scheme checks use, and progress-mode scoring),
# crosscheck and rating_score (read at validation, round with score.round_half_up) — until the
# calendar and the rounding have base modules of their own.
PENDING: set[tuple[str, str]] = set()  # edges a change in flight will remove (none now)


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path  # "" is the package itself
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules `name` imports anywhere in its source (package __init__ files left out)."""
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    package = [p for p in package if p]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + (node.module.split(".") if node.module else []))
            elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                target = node.module[len(PACKAGE):].lstrip(".")
            else:
                continue
            candidates = [target] + [f"{target}.{alias.name}".lstrip(".") for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name[len(PACKAGE) + 1:] for alias in node.names if alias.name.startswith(PACKAGE + ".")]
        else:
            continue
        out |= {c for c in candidates if c in modules and modules[c].name != "__init__.py" and c != name}
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items() if path.name != "__init__.py"}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _without_pending(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if (m, t) not in PENDING} for m, targets in graph.items()}


def test_the_scanner_sees_function_level_relative_and_absolute_imports(tmp_path, monkeypatch):
    package = tmp_path / PACKAGE
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .b import x\n")
    (package / "b.py").write_text(f"import {PACKAGE}.sub.c\n")
    (package / "sub" / "c.py").write_text("from .. import a\n")
    monkeypatch.setattr(f"{__name__}.ROOT", package)
    graph = _graph()
    assert graph == {"a": {"b"}, "b": {"sub.c"}, "sub.c": {"a"}}
    assert _cycles(graph) == [["a", "b", "sub.c"]]


def test_no_import_cycle():
    graph = _without_pending(_graph())
    cycles = _cycles(graph)
    described = ["; ".join(f"{m} -> {t}" for m in cycle for t in sorted(graph[m]) if t in cycle) for cycle in cycles]
    assert not cycles, "import cycles in the package:\n" + "\n".join(described)


def test_no_module_imports_a_later_layer():
    graph = _without_pending(_graph())
    assert set(LAYER_OF) <= set(graph), sorted(set(LAYER_OF) - set(graph))  # the table names real modules
    rank = {name: LAYERS.index(layer) for name, layer in LAYER_OF.items()}
    wrong = sorted(f"{m} ({LAYER_OF[m]}) imports {t} ({LAYER_OF[t]})" for m, targets in graph.items() if m in rank
                   for t in targets if t in rank and rank[t] > rank[m])
    assert not wrong, "\n".join(wrong)


def test_storage_imports_no_output_job_or_web_module():
    above = {name for name, layer in LAYER_OF.items() if LAYERS.index(layer) > LAYERS.index("storage")}
    for part in ("storage.archive", "storage.archive_lock", "storage.archive_swap", "storage.archive_manifest"):
        imported = _graph()[part]
        assert not imported & above, (part, sorted(imported & above))
        assert not {m for m in imported if m.startswith("web")}, part


def test_only_the_cli_imports_typer():
    users = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "typer" or n.startswith("typer.") for n in names):
                users.append(path.relative_to(ROOT).as_posix())
    assert set(users) <= {"cli.py"}, users


def test_each_stage_package_holds_only_its_own_layer():
    """The folder listing is the architecture: a module under inputs/ is an inputs module, and so on."""
    wrong = sorted(f"{name} is listed as {layer}" for name, layer in LAYER_OF.items()
                   if name.split(".")[0] in LAYERS and name.split(".")[0] != layer)
    assert not wrong, "\n".join(wrong)


def test_tests_take_fixtures_from_conftest_not_from_other_test_modules():
    importers = []
    for path in sorted(ROOT.parent.joinpath("tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("test_"):
                importers.append(f"{path.name} imports {node.module}")
            elif isinstance(node, ast.Import) and any(alias.name.startswith("test_") for alias in node.names):
                importers.append(path.name)
    assert not importers, importers
