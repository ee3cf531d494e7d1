"""One job at a time per working folder: a check or a scoring run in a background thread,
with its progress for the page to poll. Writing a period also takes the archive's lock file,
so a `kaohe run` in a terminal and the page never write the same outputs at once."""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from kaohe_excel.base.errors import KaoheError

# The share of the bar each stage fills: reading dominates a check, writing a run.
STAGE_SPAN = {"准备": (0.0, 0.0), "读取": (0.0, 0.6)}


class JobBusy(KaoheError):
    """Another job of this folder is still running."""


@dataclass
class Job:
    kind: str  # "check" | "run" | "seal"
    label: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "running"  # running | done | failed
    stage: str = "准备"
    done: int = 0
    total: int = 0
    message: str = ""
    result: Any = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        low, high = STAGE_SPAN.get(self.stage, (0.6, 0.95))
        share = self.done / self.total if self.total else 0.0
        return int(100 * (low + (high - low) * share))

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started


class Jobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: Job | None = None
        self.last: dict[str, Job] = {}  # the latest job of each kind

    @property
    def running(self) -> Job | None:
        job = self.current
        return job if job is not None and job.state == "running" else None

    def start(self, kind: str, label: str, work: Callable[[Callable[[str, int, int], None]], Any],
              on_done: Callable[[Job], None] | None = None, wait: bool = False) -> Job:
        """Run work(progress) in a thread; JobBusy when another job runs. Errors become the job's Chinese message."""
        with self._lock:
            busy = self.running
            if busy is not None:
                raise JobBusy(f"正在{busy.label}，请等它完成后再试")
            job = Job(kind, label)
            self.current = job
            self.last[kind] = job

        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total
            if stage == "读取" and total and done >= total:
                job.stage, job.done, job.total = "计分并写出结果" if kind == "run" else "写出校验报告", 0, 0

        def body() -> None:
            try:
                job.result = work(progress)
                job.state = "done"
            except KaoheError as exc:
                job.message, job.state = str(exc), "failed"
                job.result = exc
            except Exception as exc:  # a bug: the page says so in one line, the server window keeps the details
                traceback.print_exc()
                job.message = f"程序内部错误（{type(exc).__name__}: {exc}）。请将服务器窗口中的信息反馈给维护人员"
                job.state = "failed"
            finally:
                job.finished = time.time()
                if on_done is not None:
                    try:
                        on_done(job)
                    except Exception:
                        traceback.print_exc()

        thread = threading.Thread(target=body, name=f"kaohe-{kind}", daemon=True)
        thread.start()
        if wait:
            thread.join()
        return job
