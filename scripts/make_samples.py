"""Regenerate the committed sample files: templates/scheme.xlsx and sample_inputs/.

    python3 scripts/make_samples.py

Deterministic (fixed seed and timestamps): running it twice leaves git clean.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kaohe_excel.samples.county import build_sample_inputs, build_sample_scheme  # noqa: E402
from kaohe_excel.samples.interim import build_sample_year  # noqa: E402
from kaohe_excel.scheme.workbook import load_scheme  # noqa: E402

SEED = 2024


def main() -> None:
    scheme_path = build_sample_scheme(ROOT / "templates" / "scheme.xlsx")
    scheme = load_scheme(scheme_path)
    inbox = ROOT / "sample_inputs"
    inbox.mkdir(exist_ok=True)
    for old in inbox.glob("*.xlsx"):
        old.unlink()
    paths = build_sample_inputs(scheme, inbox, seed=SEED)
    print(f"{scheme_path.relative_to(ROOT)}; {len(paths)} files in {inbox.relative_to(ROOT)}/")
    year = build_sample_year(ROOT / "sample_year", seed=SEED)  # w-interim: four quarters and the year (平时考核)
    print(f"{len(year)} files in sample_year/")


if __name__ == "__main__":
    main()
