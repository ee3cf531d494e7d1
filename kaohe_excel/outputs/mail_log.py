"""The send log of a period folder (mail_log.jsonl): one JSON line per attempt, fsynced, written
before a message goes out and again with its outcome; a second run reads the last record of each
message and sends only what the server has not accepted (a torn last line from a crash is ignored)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from kaohe_excel.outputs.mail_compose import Draft

LOG_NAME = "mail_log.jsonl"


def read_log(path: Path) -> dict[str, dict]:
    """Last real (not dry-run) record per message key; a torn last line from a crash is ignored."""
    last: dict[str, dict] = {}
    if not path.is_file():
        return last
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("status") != "dry_run" and "key" in record:
            last[record["key"]] = record
    return last


def _append_log(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _record(period: str, draft: Draft, message: EmailMessage | None, status: str, response: str = "",
            resend: bool = False, refused: dict | None = None) -> dict:
    return {
        "time": datetime.now().astimezone().isoformat(timespec="seconds"),
        "period": period, "key": draft.key, "unit_code": draft.unit_code, "unit_name": draft.unit_name,
        "to": draft.to, "subject": draft.subject,
        "attachments": [{"name": a.name, "path": a.relative, "sha256": a.sha256, "size": len(a.data)}
                        for a in draft.attachments],
        "message_id": message["Message-ID"] if message is not None else "",
        "status": status, "response": response, "resend": resend, "refused": refused or {},
    }
