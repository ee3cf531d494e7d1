"""Where each archived period stands: 已计分, 公示中（至…）, 公示期满, 已封存 (kaohe status, seal, 首页).

The 公示 window is the one written to the period's manifest when it was run (publication.py
computed it); a period archived before that has no window and shows 已计分.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd

from kaohe_excel.storage.archive import MANIFEST, is_sealed, period_folders
from kaohe_excel.base.errors import PublicationPending
from kaohe_excel.base.publication import chinese_date

STATUS_COLUMNS = ["period", "state", "publication_start", "publication_end"]


def publication_window(folder: Path) -> tuple[date, date] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        window = data["publication"]
        return date.fromisoformat(window["start"]), date.fromisoformat(window["end"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def period_state(folder: Path, today: date) -> str:
    if is_sealed(folder):
        return "已封存"
    window = publication_window(folder)
    if window is None:
        return "已计分"
    return f"公示中（至{chinese_date(window[1])}）" if today <= window[1] else "公示期满"


def status_table(out_root: Path, today: date | None = None) -> pd.DataFrame:
    today = today or date.today()
    rows = []
    for folder in period_folders(Path(out_root)):
        window = publication_window(folder)
        rows.append({"period": folder.name, "state": period_state(folder, today),
                     "publication_start": chinese_date(window[0]) if window else "",
                     "publication_end": chinese_date(window[1]) if window else ""})
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)


def refuse_during_publication(folder: Path, today: date | None = None,
                               override: str = "确需提前封存请加 --force") -> None:
    """Sealing ends appeals: before the 公示 ends it needs --force (PublicationPending otherwise).

    `override` names the way round it where the caller offers one (the web page's checkbox)."""
    pending = publication_pending(folder, today)
    if pending is not None:
        raise PublicationPending(
            f"{folder.name} 期的公示期至{pending}结束，尚未期满，封存后将不能再受理复核；"
            f"请期满后再封存，{override}")


def publication_pending(folder: Path, today: date | None = None) -> str | None:
    """The end of the period's 公示 (Chinese date) while it has not ended and the period is not
    sealed; None otherwise (no window recorded, ended, or sealed)."""
    today = today or date.today()
    window = publication_window(folder)
    if window is not None and today <= window[1] and not is_sealed(folder):
        return chinese_date(window[1])
    return None
