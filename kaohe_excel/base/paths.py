"""Where the installed package keeps its own files (one owner: modules live in stage sub-packages,
so a path taken from a module's own `__file__` would depend on which stage it sits in)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
RESOURCES = PACKAGE_DIR / "resources"  # shipped in the wheel: init, mail, the demo key
REPOSITORY_TEMPLATES = PACKAGE_DIR.parent / "templates"  # a source checkout's templates/ (not in the wheel)
