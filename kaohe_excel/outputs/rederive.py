"""Compare what people read (csv, 汇总表, 反馈, 通报) with the same files rendered again from the archive.

The writers are byte-reproducible except for time stamps (the creation time in docProps/core.xml,
the zip entries' dates of a .docx), so two renderings of the same results have equal zip members
once core.xml is set aside. Any other difference is a change: the differing sheets are then read
cell by cell (the notice paragraph by paragraph) to name where it is.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

# Stamped with the time of writing: the one part that differs between two renderings.
VOLATILE_MEMBERS = {"docProps/core.xml"}
MAX_PER_FILE = 8

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
       "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}


def _shown(value: object) -> str:
    if value is None:
        return "（空）"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _capped(lines: list[str], name: str) -> list[str]:
    if len(lines) <= MAX_PER_FILE:
        return lines
    return lines[:MAX_PER_FILE] + [f"{name}：另有 {len(lines) - MAX_PER_FILE} 处不一致未列出"]


def compare_csv(name: str, archived: Path, rendered: Path) -> list[str]:
    if archived.read_bytes() == rendered.read_bytes():
        return []

    def rows(path: Path) -> list[list[str]]:
        return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig", errors="replace"))))

    a, r = rows(archived), rows(rendered)
    header = r[0] if r else []
    lines = []
    for n in range(max(len(a), len(r))):
        left = a[n] if n < len(a) else None
        right = r[n] if n < len(r) else None
        if left == right:
            continue
        if left is None or right is None:
            lines.append(f"{name} 第 {n + 1} 行：{'文件中多出此行' if right is None else '文件中缺少此行'}")
            continue
        for c in range(max(len(left), len(right))):
            x = left[c] if c < len(left) else None
            y = right[c] if c < len(right) else None
            if x != y:
                column = header[c] if c < len(header) else f"第 {c + 1} 列"
                lines.append(f"{name} 第 {n + 1} 行「{column}」：文件中为「{_shown(x)}」，重算为「{_shown(y)}」")
    return _capped(lines or [f"{name}：内容与重新生成的不一致（编码或换行被改动）"], name)


def _members(path: Path) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(path) as package:
            return {info.filename: package.read(info.filename) for info in package.infolist()}
    except (zipfile.BadZipFile, OSError, KeyError, EOFError):
        return None


def _sheet_parts(members: dict[str, bytes]) -> dict[str, str]:
    """Worksheet part name -> sheet name, from the workbook and its relationships."""
    try:
        book = ElementTree.fromstring(members["xl/workbook.xml"])
        rels = ElementTree.fromstring(members["xl/_rels/workbook.xml.rels"])
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.findall("rel:Relationship", _NS)}
    parts = {}
    for sheet in book.iter(f"{{{_NS['m']}}}sheet"):
        target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        parts[part] = sheet.get("name", "")
    return parts


def _cells(path: Path, sheets: list[str]) -> dict[str, dict[str, object]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=False)
    try:
        out = {}
        for name in sheets:
            if name not in workbook.sheetnames:
                continue
            values = {}
            for row in workbook[name].iter_rows():
                for cell in row:
                    if getattr(cell, "value", None) is not None:
                        values[cell.coordinate] = cell.value
            out[name] = values
        return out
    finally:
        workbook.close()


def _cell_order(coordinate: str) -> tuple[int, int]:
    match = re.fullmatch(r"([A-Z]+)(\d+)", coordinate)
    if not match:
        return (0, 0)
    column = 0
    for ch in match.group(1):
        column = column * 26 + ord(ch) - 64
    return int(match.group(2)), column


def compare_xlsx(name: str, archived: Path, rendered: Path) -> list[str]:
    left, right = _members(archived), _members(rendered)
    if left is None:
        return [f"{name}：不是完整的 Excel 工作簿（已损坏或被替换）"]
    if right is None:  # cannot happen for a file we just wrote; say so rather than pass
        return [f"{name}：重新生成的文件无法读取，未能核对"]
    differing = sorted(n for n in set(left) | set(right) if n not in VOLATILE_MEMBERS and left.get(n) != right.get(n))
    if not differing:
        return []
    parts_a, parts_r = _sheet_parts(left), _sheet_parts(right)
    names_a, names_r = list(parts_a.values()), list(parts_r.values())
    lines = [f"{name}：缺少工作表「{s}」" for s in names_r if s not in names_a]
    lines += [f"{name}：多出工作表「{s}」" for s in names_a if s not in names_r]
    # Excel or openpyxl rewrites every part when saving, so compare all common sheets by value then.
    sheets = [s for s in names_r if s in names_a]
    try:
        a_cells, r_cells = _cells(archived, sheets), _cells(rendered, sheets)
    except Exception:  # openpyxl cannot read it: it is no longer the workbook the tool wrote
        return lines + [f"{name}：无法按工作表读取，内容与重新生成的不一致"]
    for sheet in sheets:
        a, r = a_cells.get(sheet, {}), r_cells.get(sheet, {})
        for coordinate in sorted(set(a) | set(r), key=_cell_order):
            if a.get(coordinate) != r.get(coordinate):
                lines.append(f"{name}「{sheet}」表 {coordinate}：文件中为「{_shown(a.get(coordinate))}」，"
                             f"重算为「{_shown(r.get(coordinate))}」")
    if not lines:
        lines.append(f"{name}：各单元格的值与重新生成的相同，但文件内容不同（{'、'.join(differing[:3])}），"
                     "可能被 Excel 或其他软件另存过或改动了格式")
    return _capped(lines, name)


def _paragraphs(document: bytes) -> list[str]:
    root = ElementTree.fromstring(document)
    return ["".join(t.text or "" for t in p.iter(f"{{{_NS['w']}}}t")) for p in root.iter(f"{{{_NS['w']}}}p")]


def compare_docx(name: str, archived: Path, rendered: Path) -> list[str]:
    left, right = _members(archived), _members(rendered)
    if left is None:
        return [f"{name}：不是完整的 Word 文档（已损坏或被替换）"]
    if right is None:
        return [f"{name}：重新生成的文件无法读取，未能核对"]
    differing = sorted(n for n in set(left) | set(right) if n not in VOLATILE_MEMBERS and left.get(n) != right.get(n))
    if not differing:
        return []
    lines = []
    try:
        a, r = _paragraphs(left.get("word/document.xml", b"")), _paragraphs(right.get("word/document.xml", b""))
    except ElementTree.ParseError:
        return [f"{name}：正文无法读取，内容与重新生成的不一致"]
    for n in range(max(len(a), len(r))):
        x = a[n] if n < len(a) else None
        y = r[n] if n < len(r) else None
        if x != y:
            lines.append(f"{name} 第 {n + 1} 段：文件中为「{_shown(x)}」，重算为「{_shown(y)}」")
    if not lines:
        lines.append(f"{name}：正文文字与重新生成的相同，但文件内容不同（{'、'.join(differing[:3])}），可能被改动了格式")
    return _capped(lines, name)


def compare_outputs(archived: Path, rendered: Path) -> list[str]:
    """Chinese lines for every rendered file (csv, xlsx, docx, relative to `rendered`) that differs in `archived`."""
    lines = []
    for path in sorted(p for p in Path(rendered).rglob("*") if p.is_file()):
        relative = path.relative_to(rendered).as_posix()
        target = Path(archived) / relative
        if not target.is_file():
            lines.append(f"{relative}：归档中没有此文件")
            continue
        compare = {".csv": compare_csv, ".xlsx": compare_xlsx, ".docx": compare_docx}.get(path.suffix.lower())
        if compare is not None:
            lines += compare(relative, target, path)
        elif target.read_bytes() != path.read_bytes():
            lines.append(f"{relative}：内容与重新生成的不一致")
    return lines
