"""The registry of scoring methods: the Method type, register/unregister and METHODS
(the package kaohe_excel.scoring.methods re-exports all of it)."""


from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

REQUIRED, OPTIONAL, NOT_ALLOWED = "required", "optional", "not_allowed"
STATUSES = (REQUIRED, OPTIONAL, NOT_ALLOWED)
# the scheme's parameter columns (指标 sheet; the first four also in 目标分解) → code names
PARAMETERS = {"目标值": "target", "基本值": "base", "满分值": "full", "不允许值": "floor", "上限系数": "cap",
              "每项分值": "step", "档次表": "tier_table", "基本分比例": "base_share"}
PROGRESS_ROLES = ("prorated", "skipped")
VALUE_KINDS = ("number", "count", "grade")


@dataclass(frozen=True)
class Check:
    """A parameter check of the method, on every unit × indicator row after 目标分解.

    `test(frame, higher)` → boolean mask of the rows that fail (frame: the scheme's assignments of
    this method, parameter columns as floats; higher: 正向 rows). `message` is the Chinese text
    after 「指标「X」（method法…）」. `columns` names the parameters tested: a required parameter
    named here gets no generic "须有" check. `on_indicator`: also checked on the 指标 sheet row.
    """

    columns: tuple[str, ...]
    test: Callable[[pd.DataFrame, pd.Series], pd.Series]
    message: str
    on_indicator: bool = False


@dataclass(frozen=True)
class Method:
    """Every facet of one scoring method.

    score(rows, tier_tables) → (score_raw per row, explain.Text): vectorized over all rows of the method.
    inverse(rows, ctx) → DataFrame of methods._inverse.NEEDED: the value (as a key) needed for the
        base and full score, solved in closed form.
    parameters: every label of PARAMETERS → REQUIRED / OPTIONAL / NOT_ALLOWED. A NOT_ALLOWED
        parameter filled in is a scheme error; a REQUIRED one empty is a scheme error.
    group_relative: True (the score depends on the group's other units), False, or the parameter
        code names whose emptiness makes it so (功效系数 without thresholds).
    progress: "prorated" (thresholds scaled by the year's elapsed share in 月度/季度 schemes) or
        "skipped" (no target to complete: left out of progress mode).
    value: "number", "count" (incidents: always 反向 by nature) or "grade" (a text 等级).
    tier_rows: the 档次表 rows the method reads ("下限" or "等级"), "" when it reads none.
    full_as_target: progress mode may take 满分值 as the target when 目标值 is empty.
    """

    name: str
    description: str
    score: Callable[[Any, pd.DataFrame], tuple[Any, Any]]
    inverse: Callable[[pd.DataFrame, Any], pd.DataFrame]
    parameters: Mapping[str, str]
    group_relative: bool | tuple[str, ...]
    progress: str
    checks: tuple[Check, ...] = ()
    value: str = "number"
    tier_rows: str = ""
    full_as_target: bool = False

    def __post_init__(self) -> None:
        missing = set(PARAMETERS) - set(self.parameters)
        unknown = set(self.parameters) - set(PARAMETERS)
        bad = {k: v for k, v in self.parameters.items() if v not in STATUSES}
        if missing or unknown or bad:
            raise ValueError(f"method {self.name}: parameters missing {sorted(missing)}, unknown {sorted(unknown)}, "
                             f"bad status {bad}")
        if self.progress not in PROGRESS_ROLES or self.value not in VALUE_KINDS:
            raise ValueError(f"method {self.name}: progress {self.progress!r}, value {self.value!r}")
        if (self.parameters["档次表"] == REQUIRED) != bool(self.tier_rows):
            raise ValueError(f"method {self.name}: a method requiring 档次表 names the rows it reads (tier_rows)")

    def status(self, code: str) -> str:
        """REQUIRED / OPTIONAL / NOT_ALLOWED of a parameter by its code name (target, step …)."""
        return self.parameters[LABELS[code]]

    def uses(self, code: str) -> bool:
        return self.status(code) != NOT_ALLOWED

    def relative_rows(self, rows: pd.DataFrame) -> np.ndarray:
        """Rows of this method whose score depends on their position among the group."""
        if self.group_relative is True:
            return np.ones(len(rows), dtype=bool)
        if not self.group_relative:
            return np.zeros(len(rows), dtype=bool)
        out = np.zeros(len(rows), dtype=bool)
        for code in self.group_relative:
            out |= pd.to_numeric(rows[code], errors="coerce").isna().to_numpy() if code in rows.columns \
                else np.ones(len(rows), dtype=bool)
        return out


LABELS = {code: label for label, code in PARAMETERS.items()}
METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (a name registered twice is a programming error)."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name} is already registered")
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    METHODS.pop(name, None)


def names() -> list[str]:
    """The method names in registration order (the scheme's 计分方法 values)."""
    return list(METHODS)


def with_value(kind: str) -> list[str]:
    return [m.name for m in METHODS.values() if m.value == kind]


def group_relative() -> frozenset[str]:
    """Methods whose score may depend on the other units of the group."""
    return frozenset(m.name for m in METHODS.values() if m.group_relative)


def skipped_in_progress() -> frozenset[str]:
    return frozenset(m.name for m in METHODS.values() if m.progress == "skipped")


def full_as_target() -> frozenset[str]:
    return frozenset(m.name for m in METHODS.values() if m.full_as_target)


def users(code: str) -> list[str]:
    """The methods that read a parameter (for "只有…法使用")."""
    return [m.name for m in METHODS.values() if m.uses(code)]


def listing() -> str:
    """The one-line list of methods the scheme's error message shows: 完成率（…）、基本满分（…）."""
    return "、".join(f"{m.name}（{m.description}）" for m in METHODS.values())


_ZH_STATUS = {REQUIRED: "必填", OPTIONAL: "可填", NOT_ALLOWED: "不得填"}


def docs_table() -> str:
    """The method table of docs/methods.md (between its registry markers), generated from the registry."""
    lines = ["| 计分方法 | 说明 | 必填参数 | 可填参数 | 组内相对 | 进度模式 |", "|---|---|---|---|---|---|"]
    for m in METHODS.values():
        req = "、".join(k for k, v in m.parameters.items() if v == REQUIRED) or "—"
        opt = "、".join(k for k, v in m.parameters.items() if v == OPTIONAL) or "—"
        rel = "是" if m.group_relative is True else ("否" if not m.group_relative else
                                                   "留空" + "/".join(LABELS[c] for c in m.group_relative) + "时")
        prog = "按时间进度折算" if m.progress == "prorated" else "不参与"
        lines.append(f"| {m.name} | {m.description} | {req} | {opt} | {rel} | {prog} |")
    return "\n".join(lines) + "\n"
