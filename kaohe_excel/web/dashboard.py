"""结果看板.html: the 结果 and 历史 views as one offline file (charts and scripts inside), so a
leader can open it from a mail or a USB stick without the tool or a network.

Its Content-Security-Policy allows only the scripts written into it (by hash), so even a
text that escaped escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from kaohe_excel.web import views

DASHBOARD_NAME = "结果看板.html"
_SCRIPTS = ("vendor/echarts.common.min.js", "charts.js")


def _script_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def current_history(ranked: pd.DataFrame, period: str, out_root: Path | None) -> pd.DataFrame:
    """The archived periods' totals with this run's in place of any earlier run of the same period."""
    from kaohe_excel.storage.archive import HISTORY_COLUMNS, history_table

    archived = history_table(out_root) if out_root is not None else pd.DataFrame(columns=HISTORY_COLUMNS)
    archived = archived[archived["period"].astype(str) != str(period)].reindex(columns=HISTORY_COLUMNS)
    mine = ranked.reindex(columns=["unit_code", "unit_name", "group", "total", "rank", "grade", "vetoed"])
    mine = mine.assign(period=str(period), sealed=False)[HISTORY_COLUMNS]
    frames = [f for f in (archived, mine) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else mine


def render_dashboard(meta: Any, grades: list[str], ranked: pd.DataFrame, history: pd.DataFrame) -> str:
    scripts = [(views.STATIC_DIR / name).read_text(encoding="utf-8").replace("</script", "<\\/script") for name in _SCRIPTS]
    css = (views.STATIC_DIR / "app.css").read_text(encoding="utf-8")
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src "
           + " ".join(_script_hash(s) for s in scripts) + "; base-uri 'none'; form-action 'none'")
    template = views.environment().get_template("dashboard.html")
    return template.render(
        meta=meta, title=f"{meta.name}（{meta.period}）结果看板", csp=csp, css=Markup(css),
        scripts=[Markup(s) for s in scripts], ranking=views.ranking_groups(ranked, grades),
        history=views.history_groups(history), written=datetime.now().strftime("%Y-%m-%d %H:%M"))


def write_dashboard(path: str | Path, results: Any, out_root: Path | None = None) -> Path:
    """Write 结果看板.html for a run's results (pipeline.Results); earlier periods come from out_root."""
    scheme = results.scheme
    history = current_history(results.ranked, scheme.meta.period, out_root)
    html = render_dashboard(scheme.meta, [str(g) for g in scheme.grades["grade"]], results.ranked, history)
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path
