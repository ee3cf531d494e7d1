"""Email the results of an archived period: each unit its own feedback, the leaders the summary and notice.

Everything comes from the period folder written by `archive.write_period`: the ranked totals tell
which units exist, the archived scheme gives their addresses, and every attachment must match the
SHA-256 recorded in the manifest (and a feedback workbook must name the unit it is sent to) before
it leaves. A JSON-lines send log in the period folder makes a second run send only what the server
has not accepted yet, so an interrupted run never mails anyone twice.

Subjects and bodies come from Jinja templates the office may edit (`templates/mail_unit.txt.j2`,
`templates/mail_leader.txt.j2`); the first line of a rendered template is `主题：<subject>`, the rest
is the body. Copies ship in `kaohe_excel/resources/` for when templates/ is absent.

The parts: mail_config (kaohe.toml, addresses, headers), mail_compose (the drafts and their MIME
messages), mail_log (the send log), mail_smtp (the SMTP conversation); this module runs a send.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Callable, Sequence

from kaohe_excel.storage.archive import MANIFEST, find_period, is_sealed
from kaohe_excel.storage.archive_lock import lock_file
from kaohe_excel.base.errors import KaoheError, MailSendError, PeriodNotFound
from kaohe_excel.outputs.mail_compose import (
    LEADER_KEY,
    LEADER_TEMPLATE,
    LEADER_TOKENS,
    RESOURCES,
    UNIT_TEMPLATE,
    Attachment,
    Draft,
    build_message,
    plan_period,
    render_template,
)
from kaohe_excel.outputs.mail_config import (
    DEFAULT_PORTS,
    PASSWORD_ENV,
    SECURITY_MODES,
    MailConfig,
    check_address,
    clean_header_text,
    load_config,
    split_addresses,
    toml_problem,
)
from kaohe_excel.outputs.mail_log import LOG_NAME, _append_log, _record, read_log
from kaohe_excel.outputs.mail_smtp import _ConnectionLost, _Permanent, _Sender, _Unconfirmed
from kaohe_excel.base.safety import safe_filename

# what callers and tests import from here
__all__ = [
    "DEFAULT_PORTS", "LEADER_KEY", "LEADER_TEMPLATE", "LEADER_TOKENS", "LOG_NAME", "PASSWORD_ENV", "RESOURCES",
    "SECURITY_MODES", "UNIT_TEMPLATE", "Attachment", "Draft", "MailConfig", "build_message", "check_address",
    "clean_header_text", "load_config", "plan_period", "read_log", "render_template", "split_addresses",
    "toml_problem",
]

OUTBOX_DIR = "outbox"
LOCK_NAME = ".mail.lock"

# Outcome statuses; STATUS_LABELS is what the console shows.
SENT, DRY_RUN, ALREADY_SENT, SKIPPED, FAILED, UNCERTAIN, NOT_ATTEMPTED = (
    "sent", "dry_run", "already_sent", "skipped", "failed", "uncertain", "not_attempted")
# The whole message went out but the connection dropped before the server's reply: it may have been
# delivered. Never retried on its own (that is how a unit got two copies); only --resend sends it again.
UNCONFIRMED = "unconfirmed"
STATUS_LABELS = {SENT: "已发送", DRY_RUN: "已生成预览", ALREADY_SENT: "此前已发送，跳过", SKIPPED: "跳过",
                 FAILED: "发送失败", UNCERTAIN: "状态不明", NOT_ATTEMPTED: "未发送", UNCONFIRMED: "未确认"}
_PROBLEM_STATUSES = {SKIPPED, FAILED, UNCERTAIN, NOT_ATTEMPTED, UNCONFIRMED}


@dataclass
class MailOutcome:
    key: str
    unit_code: str
    unit_name: str
    to: list[str]
    subject: str
    attachments: list[str]
    status: str
    reason: str = ""
    response: str = ""
    eml_path: Path | None = None

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class MailReport:
    period: str
    folder: Path
    dry_run: bool
    sealed: bool
    outcomes: list[MailOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log_path: Path | None = None
    outbox: Path | None = None

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def problems(self) -> list[MailOutcome]:
        return [o for o in self.outcomes if o.status in _PROBLEM_STATUSES]

    @property
    def exit_code(self) -> int:
        """0 when every selected message went out (or was previewed); 1 when any was skipped or failed."""
        return 1 if self.problems else 0


def _period_folder(out_root: Path, period: str) -> Path:
    folder = find_period(Path(out_root), period) if period and safe_filename(period) == period else None  # recovers first
    if folder is None or not (folder / MANIFEST).is_file():
        folder = Path(out_root) / period
        raise PeriodNotFound(f"找不到 {period} 期的考核结果（{folder}）。请先运行 kaohe run，或用 --out 指定结果所在的输出目录")
    return folder


def _lock_busy(path: Path):
    """The lock_file refusal of a second mail run on the same period."""
    return lambda holder: KaoheError(f"另一个 kaohe mail 正在发送本期邮件（{path}）。如确认没有在运行，删除该文件后重试")


def send_period(out_root: Path, period: str, config_path: Path = Path("kaohe.toml"), dry_run: bool = False,
                only: Sequence[str] | None = None, resend: bool = False, password_env: str = PASSWORD_ENV,
                template_dir: Path | None = Path("templates"),
                progress: Callable[[str, int, int], None] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> MailReport:
    """Send (or with dry_run write as .eml) every message of a period that the server has not accepted yet.

    Raises MailConfigError / MailSendError (connection, TLS, login; mid-run with `.report` attached),
    PeriodNotFound, KaoheError; per-message problems are outcomes in the report.
    """
    folder = _period_folder(Path(out_root), period)
    warnings: list[str] = []
    if dry_run and not Path(config_path).is_file():
        config = MailConfig(from_address="kaohe@localhost", from_name="考核办")
        warnings.append(f"没有找到邮件配置文件 {config_path}，预览邮件使用占位发件人 kaohe@localhost")
    else:
        config = load_config(Path(config_path), password_env, need_password=not dry_run)
    if not dry_run and config.security == "none" and config.user:
        warnings.append("security = \"none\"：登录密码和邮件内容将以明文传输，建议改用 starttls 或 ssl")
    report = MailReport(period=period, folder=folder, dry_run=dry_run, sealed=is_sealed(folder),
                        log_path=folder / LOG_NAME)
    if not report.sealed:
        warnings.append(f"{period} 期尚未封存，结果仍可能被重新计算；建议确认无误并封存后再发送")
    lock_path = folder / LOCK_NAME
    with lock_file(lock_path, _lock_busy(lock_path), attempts=2):
        drafts, plan_warnings = plan_period(folder, config, only, template_dir)
        report.warnings = warnings + plan_warnings
        previous = read_log(report.log_path)
        if dry_run:
            report.outbox = folder / OUTBOX_DIR
            report.outbox.mkdir(exist_ok=True)
            for stale in report.outbox.glob("*.eml"):
                stale.unlink()
        _deliver(report, drafts, previous, config, resend, progress, sleep)
    return report


def _outcome(draft: Draft, status: str, reason: str = "", response: str = "") -> MailOutcome:
    return MailOutcome(key=draft.key, unit_code=draft.unit_code, unit_name=draft.unit_name, to=list(draft.to),
                       subject=draft.subject, attachments=[a.name for a in draft.attachments], status=status,
                       reason=reason, response=response)


def _deliver(report: MailReport, drafts: list[Draft], previous: dict[str, dict], config: MailConfig, resend: bool,
             progress: Callable[[str, int, int], None] | None, sleep: Callable[[float], None]) -> None:
    sender = None if report.dry_run else _Sender(config, sleep)
    pending: list[Draft] = []
    for draft in drafts:
        earlier = previous.get(draft.key, {}).get("status")
        if draft.problem:
            report.outcomes.append(_outcome(draft, SKIPPED, draft.problem))
        elif earlier == "accepted" and not resend:
            when = previous[draft.key].get("time", "")
            report.outcomes.append(_outcome(draft, ALREADY_SENT, f"已于 {when} 发送成功；如需重发请加 --resend"))
        elif earlier == "sending" and not resend:
            report.outcomes.append(_outcome(draft, UNCERTAIN, "上次发送时程序中断，无法确认对方是否已收到；"
                                                              f"请核实后用 --resend --only {draft.unit_code or '领导'} 补发"))
        elif earlier == UNCONFIRMED and not resend:
            when = previous[draft.key].get("time", "")
            report.outcomes.append(_outcome(draft, UNCONFIRMED, _unconfirmed_reason(draft, when)))
        else:
            pending.append(draft)
    try:
        for done, draft in enumerate(pending):
            if progress:
                progress("发送" if sender else "预览", done, len(pending))
            message = build_message(draft, config)
            data = message.as_bytes(policy=policy.SMTP)
            if sender is None:
                path = report.outbox / (safe_filename(draft.unit_code and f"{draft.unit_code}_{draft.unit_name}" or "领导_汇总表与通报") + ".eml")
                path.write_bytes(data)
                _append_log(report.log_path, _record(report.period, draft, message, "dry_run", resend=resend))
                outcome = _outcome(draft, DRY_RUN)
                outcome.eml_path = path
                report.outcomes.append(outcome)
                continue
            if done:
                sleep(config.pause)
            # Written before sending: a crash after the server accepted but before we log it shows up
            # next time as "uncertain" instead of being silently sent twice.
            _append_log(report.log_path, _record(report.period, draft, message, "sending", resend=resend))
            try:
                response, refused = sender.send(config.from_address, draft.to, data)
            except _Permanent as exc:
                _append_log(report.log_path, _record(report.period, draft, message, "failed", str(exc), resend))
                report.outcomes.append(_outcome(draft, FAILED, str(exc)))
                continue
            except _Unconfirmed as exc:
                _append_log(report.log_path, _record(report.period, draft, message, UNCONFIRMED, str(exc), resend))
                report.outcomes.append(_outcome(draft, UNCONFIRMED, _unconfirmed_reason(draft)))
                # A server that drops the line after DATA may do it again: stop, so that at most one
                # message is in doubt; the ones not attempted go out safely on the next run.
                _not_attempted(report, pending[done + 1:])
                who = draft.unit_name or "领导"
                error = MailSendError(
                    f"发给「{who}」的邮件已全部发出，但邮件服务器 {config.host}:{config.port} 在确认收到前断开了连接，"
                    f"记为“未确认”，已停止发送。请先向「{who}」核实是否收到：未收到的，用 kaohe mail {report.period} "
                    f"--resend --only {draft.unit_code or '领导'} 补发；其余邮件重新运行 kaohe mail {report.period} 即可补发，不会重复")
                error.report = report
                raise error from None
            except _ConnectionLost as exc:
                _append_log(report.log_path, _record(report.period, draft, message, "failed", str(exc), resend))
                report.outcomes.append(_outcome(draft, FAILED, str(exc)))
                _not_attempted(report, pending[done + 1:])
                sent = report.count(SENT)
                where = f"{config.host}:{config.port}"
                head = (f"与邮件服务器 {where} 的连接反复中断（{exc}），已停止发送。本次已发送 {sent} 封" if sent else
                        f"无法连接邮件服务器 {where}（{exc}）。请检查 kaohe.toml 的 host、port、security 和网络")
                error = MailSendError(f"{head}；稍后重新运行 kaohe mail {report.period} 将只补发尚未成功的邮件")
                error.report = report
                raise error from None
            except MailSendError as exc:
                _append_log(report.log_path, _record(report.period, draft, message, "failed", str(exc), resend))
                report.outcomes.append(_outcome(draft, FAILED, str(exc)))
                _not_attempted(report, pending[done + 1:])
                exc.report = report
                raise
            _append_log(report.log_path, _record(report.period, draft, message, "accepted", response, resend, refused))
            reason = ("；".join(f"{r} 被拒收（{t}）" for r, t in refused.items())) if refused else ""
            if refused:
                report.warnings.append(f"「{draft.unit_name}」的邮件已发出，但部分收件人被拒收：{reason}")
            report.outcomes.append(_outcome(draft, SENT, reason, response))
        if progress:
            progress("发送" if sender else "预览", len(pending), len(pending))
    finally:
        if sender is not None:
            sender.close()


def _unconfirmed_reason(draft: Draft, when: str = "") -> str:
    again = f"请核实对方是否收到，未收到的用 --resend --only {draft.unit_code or '领导'} 补发"
    if when:
        return f"{when} 发送时邮件已发出，但服务器未确认收到（连接中断），可能已送达，本次不重发；{again}"
    return f"邮件已发出，但服务器确认收到前连接中断，可能已送达，不自动重发；{again}"


def _not_attempted(report: MailReport, rest: list[Draft]) -> None:
    for draft in rest:
        report.outcomes.append(_outcome(draft, NOT_ATTEMPTED, "因连接中断未发送，重新运行时补发"))
