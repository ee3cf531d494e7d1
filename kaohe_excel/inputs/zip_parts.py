"""The zip parts of an .xlsx file, read straight from its bytes in memory: one central directory
read per file (shared by the sniff, the empty-cell look and the guard), parts inflated without
zipfile's per-part overhead and never beyond their declared size, and what is derived from a part
kept by its stored bytes (templates of one scheme share their styles byte for byte)."""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from typing import Callable

ZIP_MAGIC = b"PK\x03\x04"
_SHEET_ENTRY = re.compile(rb'<(?:\w+:)?sheet\b[^>]*>')
ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')


_OPEN_ZIP: list = [None, None]  # [the bytes, their ZipFile]: one file's steps share one central directory read


def zip_of(data: bytes) -> zipfile.ZipFile:
    """The file's zip archive, opened once for the sniff, the empty-cell look and the guard
    (reading the central directory each time cost as much as scanning the sheet)."""
    if _OPEN_ZIP[0] is not data:
        _OPEN_ZIP[0], _OPEN_ZIP[1] = data, zipfile.ZipFile(io.BytesIO(data))
    return _OPEN_ZIP[1]


def forget_zip() -> None:
    _OPEN_ZIP[0] = _OPEN_ZIP[1] = None


def part_key(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A part's bytes as stored (before inflating), with how it is stored: equal keys inflate
    to equal parts. None where only zipfile can read the part."""
    packed = stored_bytes(archive, info)
    return None if packed is None else b"%d:%d:" % (info.compress_type, info.file_size) + packed


def stored_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A part's bytes as the zip stores them, read from the in-memory file without zipfile's
    per-part overhead; None where only zipfile can read the part (encrypted, other codecs)."""
    fp = archive.fp
    if not isinstance(fp, io.BytesIO) or info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    with fp.getbuffer() as view:
        offset = info.header_offset
        if bytes(view[offset:offset + 4]) != ZIP_MAGIC:
            return None
        start = offset + 30 + int.from_bytes(view[offset + 26:offset + 28], "little") + int.from_bytes(view[offset + 28:offset + 30], "little")
        packed = bytes(view[start:start + info.compress_size])
    return packed


# Templates of one scheme share their styles and workbook parts byte for byte: what is
# derived from a part is kept by its stored bytes (a few hundred bytes each), per process.
_DERIVED: dict[tuple, object] = {}


def derived(key: tuple, make: Callable[[], object]) -> object:
    found = _DERIVED.get(key)
    if found is None:
        if len(_DERIVED) >= 256:
            _DERIVED.clear()
        found = _DERIVED[key] = make()
    return found


def special_styles(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits) -> dict:
    from kaohe_excel.base import xlsx_meta

    key = part_key(archive, info)
    if key is None:
        return xlsx_meta.special_styles(part_bytes(archive, info, limits))
    return derived(("styles", limits.max_part_bytes, key), lambda: xlsx_meta.special_styles(part_bytes(archive, info, limits)))


_STYLE_USES: dict[tuple, re.Pattern] = {}


def uses_style(xml: bytes, styles: dict) -> bool:
    """Whether any s="n" attribute in the sheet names one of these styles (one C-level search;
    xlsx_meta.scan_sheet's loop over every cell tag only matters when one does)."""
    key = tuple(sorted(styles))
    pattern = _STYLE_USES.get(key)
    if pattern is None:
        if len(_STYLE_USES) >= 64:
            _STYLE_USES.clear()
        numbers = b"|".join(str(number).encode() for number in key)
        pattern = _STYLE_USES[key] = re.compile(rb'\bs\s*=\s*["\']\s*(?:%s)\s*["\']' % numbers)  # either quote (w-redteam)
    return pattern.search(xml) is not None


class TooLarge(Exception):
    pass


def part_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits) -> bytes:
    """One part unpacked, never more than it declares nor more than the part limit."""
    if info.file_size > limits.max_part_bytes:
        raise TooLarge(f"文件中的部件「{info.filename[:60]}」解压后过大（{info.file_size // 1024 // 1024} MB），已拒绝读取，请核实文件")
    data = _inflate(archive, info)
    if data is None:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise zipfile.BadZipFile("member larger than declared")
    return data


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A part inflated straight from the in-memory file, at half the cost of ZipFile.open
    (no CRC: calamine checks it); None when only zipfile can do it (encrypted, other codecs)."""
    packed = stored_bytes(archive, info)
    if packed is None:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        return packed[:info.file_size + 1]
    return zlib.decompressobj(-15).decompress(packed, info.file_size + 1)




def sheet_parts(archive: zipfile.ZipFile, limits) -> tuple[dict[str, str], bool]:
    """Sheet name -> zip member of its XML, following the workbook's relationships, and
    whether every sheet the workbook lists was found."""
    infos = archive.infolist()
    names = {info.filename.replace("\\", "/").lstrip("/").lower(): info.filename for info in infos}
    workbook = names.get("xl/workbook.xml")
    rels = names.get("xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return {}, False
    stored = (part_key(archive, archive.getinfo(workbook)), part_key(archive, archive.getinfo(rels)))
    if None in stored:
        return _find_sheet_parts(archive, limits, names, workbook, rels)
    key = ("parts", limits.max_part_bytes, tuple(info.filename for info in infos), *stored)
    parts, complete = derived(key, lambda: _find_sheet_parts(archive, limits, names, workbook, rels))
    return dict(parts), complete


def _find_sheet_parts(archive: zipfile.ZipFile, limits, names: dict[str, str], workbook: str,
                      rels: str) -> tuple[dict[str, str], bool]:
    targets = {}
    for tag in re.findall(rb'<(?:\w+:)?Relationship\b[^>]*>', part_bytes(archive, archive.getinfo(rels), limits)):
        attributes = dict(ATTRIBUTE.findall(tag))
        target = attributes.get(b"Target", b"").decode("utf-8", "replace")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[attributes.get(b"Id", b"")] = os.path.normpath(target).replace("\\", "/").lower()
    parts = {}
    entries = _SHEET_ENTRY.findall(part_bytes(archive, archive.getinfo(workbook), limits))
    for tag in entries:
        attributes = dict(ATTRIBUTE.findall(tag))
        rel_id = next((v for k, v in attributes.items() if k.endswith(b":id")), b"")
        member = names.get(targets.get(rel_id, ""))
        if member is not None:
            parts[xml_text(attributes.get(b"name", b""))] = member
    return parts, len(parts) == len(entries) and len(set(parts.values())) == len(parts) > 0


def related_part(archive: zipfile.ZipFile, names: dict, part: str, rel_id: str, limits) -> bytes | None:
    """The bytes of the part a sheet's relationship points to (its drawing), or None."""
    folder, _, base = part.replace("\\", "/").rpartition("/")
    rels = names.get(f"{folder}/_rels/{base}.rels".lower())
    if rels is None:
        return None
    for tag in re.findall(rb'<(?:\w+:)?Relationship\b[^>]*>', part_bytes(archive, rels, limits)):
        attributes = dict(ATTRIBUTE.findall(tag))
        if xml_text(attributes.get(b"Id", b"")) == rel_id and attributes.get(b"TargetMode", b"") != b"External":
            target = xml_text(attributes.get(b"Target", b""))
            path = target.lstrip("/") if target.startswith("/") else f"{folder}/{target}"
            info = names.get(os.path.normpath(path).replace("\\", "/").lower())
            return part_bytes(archive, info, limits) if info is not None else None
    return None


def xml_text(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode("utf-8", "replace"))
