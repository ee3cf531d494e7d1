"""Files arriving by the page: streamed to disk outside the inbox, bounded in size, read by
the inbox reader itself, then moved into the inbox under a harmless name. A received file
is stored byte for byte as sent; nothing here ever rewrites one.

No web framework here: the route feeds the request body in chunks (`UploadReceiver.feed`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from kaohe_excel.inputs import read, sniff
from kaohe_excel.base.layout import RATING_FILE_TYPES
from kaohe_excel.base.errors import KaoheError
from kaohe_excel.base.safety import safe_filename
from kaohe_excel.web.folder import WorkFolder

MAX_FILES = 500
MAX_REQUEST_BYTES = 1024 * 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024


class UploadRefused(KaoheError):
    """The request as a whole cannot be taken (too large, malformed, not authorised)."""


@dataclass
class Received:
    original: str
    name: str = ""
    saved_as: str = ""
    status: str = "refused"  # saved | duplicate | refused
    notes: list[str] = field(default_factory=list)
    kind: str = ""
    unit_code: str = ""
    unit_name: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "saved" and not self.notes

    @property
    def description(self) -> str:
        """One line for the page: what the file is and anything the office should know."""
        parts = []
        if self.unit_code:
            parts.append(f"{self.unit_code} {self.unit_name}".strip() + (f"（{self.kind}）" if self.kind else ""))
        elif self.kind:
            parts.append(self.kind)
        return "；".join(parts + self.notes)


@dataclass
class InboxFile:
    name: str  # relative to the inbox, as the reader names it
    size: int
    mtime: float
    sha256: str
    kind: str
    unit_code: str
    unit_name: str
    problem: str  # the reader's first fatal message, if the file cannot be used


_index_cache: dict[tuple[str, int, int], InboxFile] = {}


def _identify(result: read.FileResult) -> tuple[str, str]:
    if result.kind in RATING_FILE_TYPES:
        # a 测评 file rates many units and belongs to none; its header maps header texts to header cells
        return "", ""
    unit_code = result.meta.get("单位代码", "")
    unit_name = ""
    header = result.header or {}
    if not unit_code and "单位代码" in header:
        unit_code = str(header["单位代码"].value or "").strip()
    if "单位名称" in header:
        unit_name = str(header["单位名称"].value or "").strip()
    return unit_code, unit_name


def _problem(result: read.FileResult) -> str:
    fatal = [i for i in result.issues if i.code in read.FATAL_FILE_CODES]
    return fatal[0].message if fatal else ""


def inbox_index(work: WorkFolder) -> list[InboxFile]:
    """Every file the reader would read from the inbox, identified by the reader (cached per name, size and time)."""
    paths, _ = read.list_inbox(work.inbox)
    files = []
    for path in paths:
        stat = path.stat()
        name = str(path.relative_to(work.inbox))
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        entry = _index_cache.get(key)
        if entry is None:
            result = read.read_file(path, name)
            unit_code, unit_name = _identify(result)
            entry = InboxFile(name, stat.st_size, stat.st_mtime, result.sha256, result.kind, unit_code, unit_name,
                              _problem(result))
            _index_cache[key] = entry
        files.append(entry)
    return files


def inbox_fingerprint(work: WorkFolder) -> tuple:
    """Changes whenever a file in the inbox (or the scheme) is added, removed or rewritten."""
    paths, _ = read.list_inbox(work.inbox)
    entries = []
    for path in paths:
        stat = path.stat()
        entries.append((str(path.relative_to(work.inbox)), stat.st_size, stat.st_mtime_ns))
    scheme = work.scheme.stat()
    return (scheme.st_size, scheme.st_mtime_ns, tuple(entries))


def clean_name(raw: str) -> str:
    """The last component of what the browser sent, made a harmless file name."""
    base = re.split(r"[\\/]", raw or "")[-1]
    name = safe_filename(base, max_len=120)
    if name.startswith("."):
        name = "_" + name  # the reader skips hidden names: the file would silently not count
    return name


def _unique_target(inbox: Path, name: str) -> Path:
    target = inbox / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while target.exists():
        target = inbox / f"{stem} ({n}){suffix}"
        n += 1
    return target


class UploadReceiver:
    """Feeds a multipart/form-data body into temporary files in <folder>/.kaohe-web/uploads.

    `token_ok(token)` is asked before the first file is written: the token comes from the
    X-CSRF-Token header (given as `header_token`) or from a form field named csrf_token
    that precedes the files.
    """

    def __init__(self, work: WorkFolder, content_type: str, header_token: str | None,
                 token_ok: Callable[[str | None], bool], limits: read.ReadLimits = read.ReadLimits()):
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UploadRefused("上传格式不对（应为 multipart/form-data），请用页面上的上传按钮上传")
        self.work = work
        self.limits = limits
        self.header_token = header_token
        self.token_ok = token_ok
        self.fields: dict[str, str] = {}
        self.parts: list[dict] = []
        self._headers: dict[bytes, bytes] = {}
        self._field_name = b""
        self._field_value = b""
        self._current: dict | None = None
        self._authorised = False
        self._received = 0
        callbacks = {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        self.parser = MultipartParser(boundary, callbacks)

    # --- parser callbacks
    def _part_begin(self) -> None:
        self._headers = {}
        self._field_name = self._field_value = b""
        self._current = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._field_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field_name.lower()] = self._field_value
        self._field_name = self._field_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self._current = {"field": name, "value": b""}
            return
        if not self._authorised:
            token = self.header_token or self.fields.get("csrf_token")
            if not self.token_ok(token):
                raise UploadRefused("页面已过期或来源不明（缺少有效的安全令牌），文件未保存。请刷新页面后重新上传")
            self._authorised = True
        if len(self.parts) >= MAX_FILES:
            raise UploadRefused(f"一次最多上传 {MAX_FILES} 个文件，请分批上传")
        original = filename.decode("utf-8", "replace")
        handle = tempfile.NamedTemporaryFile(dir=self.work.uploads, prefix="upload-", suffix=".part", delete=False)
        self._current = {"file": True, "original": original, "handle": handle, "path": Path(handle.name),
                         "size": 0, "hash": hashlib.sha256(), "too_large": False}
        self.parts.append(self._current)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if part is None:
            return
        chunk = data[start:end]
        if "field" in part:
            if len(part["value"]) + len(chunk) > MAX_FIELD_BYTES:
                raise UploadRefused("表单内容过长，请刷新页面后重试")
            part["value"] += chunk
            return
        part["size"] += len(chunk)
        if part["too_large"]:
            return
        if part["size"] > self.limits.max_file_bytes:
            part["too_large"] = True  # keep reading the body, stop keeping the file
            part["handle"].truncate(0)
            return
        part["handle"].write(chunk)
        part["hash"].update(chunk)

    def _part_end(self) -> None:
        part = self._current
        if part is None:
            return
        if "field" in part:
            self.fields[part["field"]] = part["value"].decode("utf-8", "replace")
        else:
            part["handle"].close()
        self._current = None

    # --- driving
    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > MAX_REQUEST_BYTES:
            raise UploadRefused(f"一次上传的总量超过 {MAX_REQUEST_BYTES // 1024 // 1024} MB，请分批上传")
        self.parser.write(chunk)

    def discard(self) -> None:
        for part in self.parts:
            try:
                part["handle"].close()
            except Exception:
                pass
            Path(part["path"]).unlink(missing_ok=True)

    def finish(self) -> list[Received]:
        """Check each received file and move the acceptable ones into the inbox."""
        self.parser.finalize()
        if not self._authorised and not self.parts:
            token = self.header_token or self.fields.get("csrf_token")
            if not self.token_ok(token):
                raise UploadRefused("页面已过期或来源不明（缺少有效的安全令牌），请刷新页面后重试")
        existing = inbox_index(self.work)
        outcomes = []
        try:
            for part in self.parts:
                outcomes.append(self._accept(part, existing))
        finally:
            self.discard()  # whatever was not moved into the inbox
        return outcomes

    def _accept(self, part: dict, existing: list[InboxFile]) -> Received:
        original = part["original"]
        name = clean_name(original)
        outcome = Received(original=original, name=name)
        limit_mb = self.limits.max_file_bytes // 1024 // 1024
        suffix = Path(name).suffix.lower()
        if part["too_large"]:
            outcome.notes.append(f"文件超过 {limit_mb} MB 的上限，未保存。请确认是否选错了文件")
            return outcome
        if suffix not in sniff.SPREADSHEET_SUFFIXES:
            outcome.notes.append("只接收 Excel/WPS 表格文件（.xlsx、.xls 等），未保存")
            return outcome
        if name.startswith("~$"):
            outcome.notes.append("这是 Excel/WPS 打开文件时生成的临时文件，不是报送的表格，未保存")
            return outcome
        if part["size"] == 0:
            outcome.notes.append("文件是空的（0 字节），未保存。请让报送单位重新发送")
            return outcome
        digest = part["hash"].hexdigest()
        same = [f for f in existing if f.sha256 == digest]
        if same:
            outcome.status = "duplicate"
            outcome.saved_as = same[0].name
            outcome.notes.append(f"与收件箱中已有的「{same[0].name}」内容完全相同，未重复保存")
            return outcome
        result = read.read_file(Path(part["path"]), name, self.limits)  # the inbox reader's own defences
        outcome.kind = result.kind
        outcome.unit_code, outcome.unit_name = _identify(result)
        target = _unique_target(self.work.inbox, name)
        if target.name != name:
            outcome.notes.append(f"收件箱中已有同名文件，本文件另存为「{target.name}」")
        problem = _problem(result)
        if problem:
            outcome.notes.append(f"已保存，但无法使用：{problem}")
        if outcome.unit_code:
            others = [f.name for f in existing if f.unit_code == outcome.unit_code and f.kind == result.kind]
            if others:
                outcome.notes.append(f"收件箱中已有该单位的文件「{'」「'.join(others)}」；同一单位有多份报送时校验会报错，"
                                     "请在下方文件列表中把旧的一份移出收件箱")
        part["handle"].close()
        shutil.move(str(part["path"]), str(target))
        outcome.status = "saved"
        outcome.saved_as = target.name
        existing.append(InboxFile(target.name, part["size"], 0.0, digest, result.kind, outcome.unit_code,
                                  outcome.unit_name, problem))
        return outcome


def remove_from_inbox(work: WorkFolder, name: str) -> str:
    """Move one inbox file (named exactly as listed) to .kaohe-web/已移出收件箱; never deletes it."""
    listed = {f.name: f for f in inbox_index(work)}
    if name not in listed:
        raise KaoheError(f"收件箱中没有文件「{name}」（可能已被移出），请刷新页面")
    source = work.inbox / name
    work.removed.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = work.removed / f"{stamp}_{safe_filename(Path(name).name, 120)}"
    n = 2
    while target.exists():
        target = work.removed / f"{stamp}-{n}_{safe_filename(Path(name).name, 120)}"
        n += 1
    os.replace(source, target)
    return target.name
