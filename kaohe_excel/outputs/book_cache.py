"""Many small workbooks of one style (the feedback workbooks), each without the work that is the
same in all of them.

xlsxwriter builds every workbook from scratch: ~30 formats made and keyed, their fonts, borders and
fills indexed, styles.xml assembled, and every part of the zip deflated, theme and styles included.
For 2,000 feedback workbooks that is most of the time once their rows are pre-encoded
(report_xlsx._PlannedTable). Here

- the formats are made once per process (SharedFormats) and lent to each workbook, with their style
  numbers fixed, so a cell's XML is the same in all of them;
- their indexing (Workbook._prepare_format_properties) and styles.xml are computed by xlsxwriter for
  the first workbook and reused while the formats in use are the same;
- a zip part that is byte for byte one written before (theme, styles, rels, content types, …) is
  stored from the deflated bytes kept then; other parts are deflated as zipfile does it.

The file is byte for byte the one xlsxwriter writes itself (tests/test_book_cache.py compares the
two, zip headers included). Like sheet_rows it leans on xlsxwriter internals (the format indices,
the packager's styles writer, the ZipFile it names), which that test watches.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable
from zipfile import ZIP64_LIMIT, ZIP_DEFLATED, ZipFile, ZipInfo

import xlsxwriter.workbook as _xw_workbook
from xlsxwriter.packager import Packager

from kaohe_excel.outputs.sheet_rows import StreamingWorkbook

# What Workbook._prepare_format_properties sets on the workbook (the formats keep their own indices).
_PREPARED = ("xf_formats", "dxf_formats", "font_count", "num_formats", "border_count", "fill_count")
# Deflated zip parts kept per process, keyed by name and bytes; worksheets differ in every workbook.
_PARTS: dict[tuple, tuple[bytes, int, int, int]] = {}
_PARTS_MAX = 64


class SharedFormats:
    """Formats made once per process by `build(workbook)` and lent to the workbooks of `new_workbook`.

    A workbook that gives a lent format a style number of its own (a format outside those `build`
    indexed) spoils the loan: the next workbook gets freshly made formats, as it would without it.
    """

    def __init__(self, options: dict, build: Callable[[Any], Any]):
        self._options = options
        self._build = build
        self._made = None

    def _make(self) -> None:
        proto = StreamingWorkbook(None, _fresh(self._options))  # never closed: it only holds the formats
        value = self._build(proto)
        self._made = {"value": value, "formats": list(proto.formats), "xf": proto.xf_format_indices,
                      "dxf": proto.dxf_format_indices, "indices": _indices(proto.formats), "prepared": None,
                      "styles": None}

    def new_workbook(self, filename: str, stream_rows: bool = True) -> tuple["LentFormatsWorkbook", Any]:
        """A workbook with the shared formats, and `build`'s value for them (e.g. report_xlsx.Formats)."""
        if self._made is None:
            self._make()
        wb = LentFormatsWorkbook(filename, _fresh(self._options), self, stream_in_memory=stream_rows)
        return wb, self._made["value"]

    def _lend(self, wb: "LentFormatsWorkbook") -> None:
        made = self._made
        wb.formats = list(made["formats"])
        wb.xf_format_indices = dict(made["xf"])
        wb.dxf_format_indices = dict(made["dxf"])
        wb._kaohe_loan = made

    def _returned(self, made: dict) -> None:
        if made is self._made and _indices(made["formats"]) != made["indices"]:
            self._made = None


def _fresh(options: dict) -> dict:
    # xlsxwriter writes into this dict (the theme font): each workbook gets its own copy
    options = dict(options)
    options["default_format_properties"] = dict(options.get("default_format_properties") or {})
    return options


def _indices(formats: list) -> tuple:
    return tuple((f.xf_index, f.dxf_index) for f in formats)


class LentFormatsWorkbook(StreamingWorkbook):
    """A StreamingWorkbook whose formats are lent by a SharedFormats; see the module docstring."""

    def __init__(self, filename, options, shared: SharedFormats, stream_in_memory: bool = True):
        super().__init__(filename, options, stream_in_memory=stream_in_memory)
        shared._lend(self)
        self._kaohe_shared = shared

    def _loan_intact(self) -> bool:
        made = self._kaohe_loan
        return (len(self.formats) == len(made["formats"]) and all(a is b for a, b in zip(self.formats, made["formats"]))
                and _indices(self.formats) == made["indices"])

    def _prepare_format_properties(self) -> None:
        made = self._kaohe_loan
        if made["prepared"] is not None and self._loan_intact():
            for name, value in made["prepared"].items():
                setattr(self, name, list(value) if isinstance(value, list) else value)
            return
        super()._prepare_format_properties()
        if made["prepared"] is None and self._loan_intact():
            made["prepared"] = {name: (list(v) if isinstance(v, list) else v) for name in _PREPARED
                                for v in [getattr(self, name)]}

    def _styles_key(self) -> tuple | None:
        if not (self.in_memory and self._kaohe_loan["prepared"] is not None and self._loan_intact()):
            return None
        return (repr(self.palette), repr(self.custom_colors), bool(self.has_comments))

    def _get_packager(self):
        return _StylesPackager(self)

    def _store_workbook(self) -> None:
        try:
            if self.in_memory and getattr(_xw_workbook, "ZipFile", None) is ZipFile:
                _xw_workbook.ZipFile = _PartCachingZip
                try:
                    super()._store_workbook()
                finally:
                    _xw_workbook.ZipFile = ZipFile
            else:
                super()._store_workbook()
        finally:
            self._kaohe_shared._returned(self._kaohe_loan)


class _StylesPackager(Packager):
    """A Packager that writes the styles.xml kept from the first workbook of the same formats."""

    def __init__(self, book: LentFormatsWorkbook):
        super().__init__()
        self._book = book

    def _write_styles_file(self) -> None:
        key = self._book._styles_key()
        kept = self._book._kaohe_loan["styles"]
        if key is not None and kept is not None and kept[0] == key:
            self._filename("xl/styles.xml").write(kept[1])
            return
        super()._write_styles_file()
        if key is not None and kept is None:
            self._book._kaohe_loan["styles"] = (key, self.filenames[-1][0].getvalue())


class _PartCachingZip(ZipFile):
    """A ZipFile whose writestr(ZipInfo, bytes) deflates a part once per process (see _PARTS): the
    local header and data are what ZipFile.writestr writes, the central directory its own."""

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        zinfo = zinfo_or_arcname
        if (not isinstance(zinfo, ZipInfo) or compress_type is not None or compresslevel is not None
                or zinfo.compress_type != ZIP_DEFLATED or getattr(zinfo, "_compresslevel", None) is not None
                or not self._seekable or self._writing or not self.fp or len(data) * 1.05 > ZIP64_LIMIT):
            return super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)
        if isinstance(data, str):
            data = data.encode("utf-8")
        key = (zinfo.filename, zinfo.date_time, zinfo.external_attr, data)
        kept = _PARTS.get(key)
        if kept is None:
            compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            body = compressor.compress(data) + compressor.flush()
            kept = (body, zlib.crc32(data), len(data), len(body))
            if not zinfo.filename.startswith("xl/worksheets/"):
                if len(_PARTS) >= _PARTS_MAX:
                    _PARTS.pop(next(iter(_PARTS), None), None)
                _PARTS[key] = kept
        body, crc, size, compressed = kept
        # as ZipFile._open_to_write and _ZipWriteFile.close leave the entry
        zinfo.flag_bits = 0x00
        if not zinfo.external_attr:
            zinfo.external_attr = 0o600 << 16
        zinfo.CRC, zinfo.file_size, zinfo.compress_size = crc, size, compressed
        with self._lock:
            self.fp.seek(self.start_dir)
            zinfo.header_offset = self.fp.tell()
            self._writecheck(zinfo)
            self._didModify = True
            self.fp.write(zinfo.FileHeader(False))
            self.fp.write(body)
            self.start_dir = self.fp.tell()
            self.filelist.append(zinfo)
            self.NameToInfo[zinfo.filename] = zinfo
