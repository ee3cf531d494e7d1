"""Every file `kaohe template` would write with given options (the 填报表, 评定表, 复核申请表,
牵头单位核定表 of template.py and the 测评 workbooks of rating_template.py), so all of them can be
checked before any is written. Above both writers, so neither imports the other."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from kaohe_excel.outputs.rating_template import planned_rating_paths  # w-rating: the 测评 workbooks
from kaohe_excel.outputs.template import (
    APPEAL_FILE_NAME,
    ASSESSMENT_FILE_NAME,
    lead_file_name,
    lead_rows,
    template_file_name,
)


def planned_paths(scheme, out_dir: str | Path, units: Iterable[str] | None = None, lead: bool = False) -> list[Path]:
    """The files `kaohe template` writes with these options, so they can be checked before any is written."""
    out_dir = Path(out_dir)
    if lead:
        return [out_dir / lead_file_name(name) for name in dict.fromkeys(lead_rows(scheme)["lead_unit"])]
    chosen = scheme.units if units is None else scheme.units[scheme.units["unit_code"].isin(list(units))]
    paths = [out_dir / template_file_name(code, name) for code, name in zip(chosen["unit_code"], chosen["unit_name"])]
    if units is None:
        paths.append(out_dir / ASSESSMENT_FILE_NAME)
        paths.append(out_dir / APPEAL_FILE_NAME)
        paths.extend(planned_rating_paths(scheme, out_dir))
    return paths
