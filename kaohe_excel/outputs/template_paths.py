"""Every file `kaohe template` would write with given options, so all of them can be checked
before any is written: each input kind's `Template.plan` (inputs/kinds), in registration order.
Above the template writers, so none of them imports another."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from kaohe_excel.base.layout import APPEAL_FILE_NAME, ASSESSMENT_FILE_NAME
from kaohe_excel.inputs import kinds
from kaohe_excel.outputs.template import lead_file_name, lead_rows, template_file_name


def template_kinds(units: Iterable[str] | None = None, lead: bool = False) -> list:
    """The kinds whose templates these options write, each writer once (the three 测评 kinds share one)."""
    if lead:
        scopes = {"lead"}
    else:
        scopes = {"units"} if units is not None else {"units", "office"}
    chosen, writers = [], set()
    for kind in kinds.distinct():
        if kind.template is not None and kind.template.scope in scopes and kind.template.write not in writers:
            writers.add(kind.template.write)
            chosen.append(kind)
    return chosen


def planned_paths(scheme, out_dir: str | Path, units: Iterable[str] | None = None, lead: bool = False) -> list[Path]:
    """The files `kaohe template` writes with these options, so they can be checked before any is written."""
    units = None if units is None else list(units)
    return [path for kind in template_kinds(units, lead) for path in kinds.resolve(kind.template.plan)(scheme, Path(out_dir), units)]


def planned_unit_paths(scheme, out_dir: Path, units: list[str] | None) -> list[Path]:
    chosen = scheme.units if units is None else scheme.units[scheme.units["unit_code"].isin(units)]
    return [out_dir / template_file_name(code, name) for code, name in zip(chosen["unit_code"], chosen["unit_name"])]


def planned_assessment_paths(scheme, out_dir: Path, units=None) -> list[Path]:
    return [out_dir / ASSESSMENT_FILE_NAME]


def planned_appeal_paths(scheme, out_dir: Path, units=None) -> list[Path]:
    return [out_dir / APPEAL_FILE_NAME]


def planned_lead_paths(scheme, out_dir: Path, units=None) -> list[Path]:
    return [out_dir / lead_file_name(name) for name in dict.fromkeys(lead_rows(scheme)["lead_unit"])]
