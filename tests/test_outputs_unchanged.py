"""Refactors leave every output byte for byte the same.

`kaohe run` on the sample inbox and on the bench's 300-unit inbox; every output file is
reduced to a fingerprint (each part of a zip, the bytes of every other file) and compared with
the committed one in tests/golden/. Only what a run stamps with the clock is left out: the
created/modified times of an Office file (docProps/core.xml, the zip entries' dates) and the
manifest's `created_at`, the minute the dashboard page names, and the hashes the manifest keeps
of those files (the bench's generated
评定表 is stamped too, so the copies of the inputs are compared the same way).

An intended change of an output regenerates the fingerprints, and the diff of tests/golden/ then
shows which files changed:

    KAOHE_UPDATE_GOLDEN=1 python3 -m pytest tests/test_outputs_unchanged.py -n 0
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest

from kaohe_excel.jobs import pipeline

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
ISSUED = date(2025, 1, 15)
CLOCK_PARTS = {"docProps/core.xml"}
OFFICE = (".xlsx", ".docx")
DASHBOARD_CLOCK = re.compile(r"(本文件由考核表格批处理工具于 )\d{4}-\d\d-\d\d \d\d:\d\d( 生成)".encode())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _office_fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():  # the order of the parts is part of the file
            h.update(name.encode() + b"\0")
            if name not in CLOCK_PARTS:
                h.update(_digest(z.read(name)).encode())
    return h.hexdigest()


def _manifest_fingerprint(path: Path) -> str:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.pop("created_at", None)
    for entry in manifest.get("files", []):
        if str(entry.get("path", "")).endswith(OFFICE + (".html",)):
            entry.pop("sha256", None)
            entry.pop("size", None)
    for entry in manifest.get("inputs", []):
        if str(entry.get("name", "")).endswith(OFFICE):
            entry.pop("sha256_at_read", None)
    return _digest(json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode())


def fingerprint(folder: Path) -> dict[str, str]:
    prints = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == "manifest.json":
            prints[rel] = _manifest_fingerprint(path)
        elif path.suffix in OFFICE:
            prints[rel] = _office_fingerprint(path)
        elif path.suffix == ".html":
            prints[rel] = _digest(DASHBOARD_CLOCK.sub(rb"\1(time)\2", path.read_bytes()))
        else:
            prints[rel] = _digest(path.read_bytes())
    return prints


def _bench_inbox(base: Path) -> tuple[Path, Path]:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = module.generate(300, folder=base / "u300", workers=1)
    return folder / "inbox", folder / "scheme.xlsx"


def _compare(name: str, prints: dict[str, str]) -> None:
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("KAOHE_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(prints, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
        return
    expected = json.loads(golden.read_text(encoding="utf-8"))
    missing = sorted(set(expected) - set(prints))
    extra = sorted(set(prints) - set(expected))
    changed = sorted(rel for rel in set(expected) & set(prints) if expected[rel] != prints[rel])
    assert not (missing or extra or changed), (
        f"{name}: outputs differ from tests/golden/{name}.json — changed {changed[:20]}, missing {missing[:20]}, "
        f"new {extra[:20]} (an intended change: KAOHE_UPDATE_GOLDEN=1, see this module's docstring)")


@pytest.mark.parametrize("name", ["sample", "bench300"])
def test_outputs_are_byte_for_byte_unchanged(tmp_path, name):
    if name == "sample":
        inbox, scheme = ROOT / "sample_inputs", ROOT / "templates" / "scheme.xlsx"
    else:
        inbox, scheme = _bench_inbox(tmp_path)
    outcome = pipeline.run(inbox, scheme, out_root=tmp_path / "out", issued_on=ISSUED, workers=2,
                           template_dir=ROOT / "templates")
    _compare(name, fingerprint(outcome.folder))


def test_the_fingerprint_sees_a_changed_cell(tmp_path):
    # the guard itself: one changed character in one sheet of one workbook changes its print,
    # a new clock time does not
    from openpyxl import Workbook

    def book(path: Path, text: str) -> Path:
        wb = Workbook()
        wb.active["A1"] = text
        wb.save(path)
        return path

    a = _office_fingerprint(book(tmp_path / "a.xlsx", "优秀"))
    b = _office_fingerprint(book(tmp_path / "b.xlsx", "良好"))
    c = _office_fingerprint(book(tmp_path / "c.xlsx", "优秀"))
    assert a != b
    assert a == c
