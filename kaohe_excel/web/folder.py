"""The working folder the web page serves: one place that knows its layout.

`kaohe init` makes it; its names are fixed here so the two can be aligned in one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kaohe_excel.base.errors import KaoheError

SCHEME_NAME = "考核方案.xlsx"
INBOX_NAME = "收件箱"
OUTPUTS_NAME = "outputs"
# The page's own working files (uploads in progress, files taken out of the inbox): never read as submissions.
STATE_NAME = ".kaohe-web"
CONFIG_NAME = "kaohe.toml"


@dataclass(frozen=True)
class WorkFolder:
    root: Path
    scheme: Path
    inbox: Path
    outputs: Path
    state: Path
    config: Path

    @property
    def uploads(self) -> Path:
        return self.state / "uploads"

    @property
    def removed(self) -> Path:
        return self.state / "已移出收件箱"


def discover(folder: str | Path | None = None) -> WorkFolder:
    """The working folder at `folder` (default: the current one); the inbox and outputs are created when absent."""
    root = Path(folder or ".").resolve()
    if not root.is_dir():
        raise KaoheError(f"文件夹不存在：{root}")
    scheme = root / SCHEME_NAME
    if not scheme.is_file():
        raise KaoheError(f"「{root}」不是考核工作文件夹：其中没有 {SCHEME_NAME}。"
                         f"请先运行 kaohe init 建立工作文件夹，或在 kaohe serve 后写出含 {SCHEME_NAME} 的文件夹")
    work = WorkFolder(root, scheme, root / INBOX_NAME, root / OUTPUTS_NAME, root / STATE_NAME, root / CONFIG_NAME)
    for path in (work.inbox, work.outputs, work.uploads):
        path.mkdir(parents=True, exist_ok=True)
    return work
