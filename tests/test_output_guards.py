"""Output commands never destroy or mislead: no overwritten submissions, a Chinese line for every file-system
condition a user can fix, damaged archives named, verify re-deriving what people read, no duplicate mail."""

from __future__ import annotations

import email
import errno
import hashlib
import json
import shutil
import warnings
from datetime import date
from email import policy
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from conftest import (FILES, free_port as _free_port, make_inbox, small_scheme_sheets,
                      smtp_authenticator as _authenticator, SMTP_PASSWORD as PASSWORD, SMTP_READY as READY,
                      write_mail_config as write_config, write_workbook)
from inbox_helpers import fill_unit
from kaohe_excel.base import fsguard
from kaohe_excel.outputs import mail
from kaohe_excel.outputs import period_outputs
from kaohe_excel.jobs import pipeline
from kaohe_excel.outputs import report
from kaohe_excel.cli import app
from kaohe_excel.base.errors import MailSendError
from kaohe_excel.scheme.workbook import load_scheme

runner = CliRunner()
ISSUED = date(2025, 1, 15)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    # rich wraps long lines at the console width; the message is one line to the user
    flat = result.output.replace("\n", "")
    assert "Traceback" not in flat and "程序内部错误" not in flat, result.output
    return result, flat


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A scheme, a filled inbox and an archived 2024 period (copied per test before any change)."""
    root = tmp_path_factory.mktemp("guards")
    scheme_path = write_workbook(root / "scheme.xlsx", small_scheme_sheets())
    inbox = make_inbox(root / "inbox", load_scheme(scheme_path))
    pipeline.run(inbox, scheme_path, out_root=root / "outputs", issued_on=ISSUED, workers=1)
    return root


@pytest.fixture
def site(built, tmp_path):
    shutil.copytree(built, tmp_path / "site")
    return tmp_path / "site"


# --------------------------------------------------------------------------- template never destroys submissions


def test_template_into_the_inbox_leaves_every_filled_submission_byte_identical(site):
    inbox = site / "inbox"
    before = tree_bytes(inbox)
    result, flat = invoke("template", "--scheme", site / "scheme.xlsx", "--out", inbox)
    assert result.exit_code == 2
    assert "已有同名文件" in flat and "未生成任何模板" in flat and "--overwrite" in flat
    assert tree_bytes(inbox) == before
    # Even when asked to overwrite, a workbook whose input cells hold data is never replaced.
    result, flat = invoke("template", "--scheme", site / "scheme.xlsx", "--out", inbox, "--overwrite")
    assert result.exit_code == 2
    assert "已填有数据" in flat and "即使加 --overwrite 也不会覆盖" in flat and "「填报」表" in flat
    assert tree_bytes(inbox) == before


def test_template_overwrite_replaces_blank_templates_only_when_asked(site):
    out = site / "模板"
    assert invoke("template", "--scheme", site / "scheme.xlsx", "--out", out)[0].exit_code == 0
    blank = tree_bytes(out)
    assert len(blank) == 6  # four units, 评定表 and 复核登记表 (w-appeal)
    result, flat = invoke("template", "--scheme", site / "scheme.xlsx", "--out", out)
    assert result.exit_code == 2 and "已有同名文件" in flat
    result, _ = invoke("template", "--scheme", site / "scheme.xlsx", "--out", out, "--overwrite")
    assert result.exit_code == 0 and tree_bytes(out) == blank
    # one unit starts filling in: nothing at all is written, the other blank templates included
    (out / "评定表.xlsx").unlink()
    fill_unit(out / FILES["D01"], {"C2": 0.4})
    typed = tree_bytes(out)
    result, flat = invoke("template", "--scheme", site / "scheme.xlsx", "--out", out, "--overwrite")
    assert result.exit_code == 2 and FILES["D01"] in flat and "已填有数据" in flat
    assert tree_bytes(out) == typed and not (out / "评定表.xlsx").exists()


def test_a_table_copied_into_a_new_workbook_counts_as_filled(site):
    """No protection at all (every cell locked by default): the input header finds the typed value."""
    out = site / "模板"
    out.mkdir()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["指标代码", "指标名称", "实际完成值"])
    sheet.append(["A1", "地区生产总值", 95])
    workbook.save(out / FILES["T01"])
    result, flat = invoke("template", "--scheme", site / "scheme.xlsx", "--out", out, "--overwrite")
    assert result.exit_code == 2 and "C2" in flat and "已填有数据" in flat


# --------------------------------------------------------------------------- OS conditions as Chinese lines


def test_out_is_a_file_where_a_folder_is_expected(site):
    blocker = site / "outputs.txt"
    blocker.write_text("x", encoding="utf-8")
    result, flat = invoke("template", "--scheme", site / "scheme.xlsx", "--out", blocker / "模板")
    assert result.exit_code == 2 and "是一个文件，而这里需要一个文件夹" in flat and "outputs.txt" in flat
    result, flat = invoke("run", site / "inbox", "--scheme", site / "scheme.xlsx", "--out", blocker)
    assert result.exit_code == 2 and "是一个文件，而这里需要一个文件夹" in flat
    assert blocker.read_text(encoding="utf-8") == "x"


def test_read_only_output_folder_fails_before_any_work(site, monkeypatch):
    # Tests run as root, which ignores permission bits: the probe write is refused as a read-only folder would.
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(fsguard.tempfile, "mkstemp", refuse)
    scanned = []
    monkeypatch.setattr(pipeline, "read_and_validate", lambda *a, **k: scanned.append(1))
    result, flat = invoke("run", site / "inbox", "--scheme", site / "scheme.xlsx", "--out", site / "outputs")
    assert result.exit_code == 2 and "没有权限写入" in flat and "outputs" in flat
    assert not scanned  # refused before reading the inbox
    result, flat = invoke("template", "--scheme", site / "scheme.xlsx", "--out", site / "新模板")
    assert result.exit_code == 2 and "没有权限写入" in flat and not (site / "新模板").exists()


def test_disk_full_during_run_keeps_the_previous_period_and_says_what_to_do(site, monkeypatch):
    before = tree_bytes(site / "outputs")

    def full(folder, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(folder) / "scores.csv"))

    monkeypatch.setattr(report, "write_csvs", full)
    result, flat = invoke("run", site / "inbox", "--scheme", site / "scheme.xlsx", "--out", site / "outputs")
    assert result.exit_code == 2
    assert "磁盘空间不足" in flat and "清理该磁盘" in flat
    assert "staging" not in flat  # the user is told about outputs/2024, not the hidden staging folder
    assert str(site / "outputs" / "2024" / "scores.csv") in flat
    assert tree_bytes(site / "outputs") == before  # the archived period is untouched, nothing half written


def test_history_export_over_a_workbook_open_in_excel(site, monkeypatch):
    import xlsxwriter.exceptions

    target = site / "历年考核.xlsx"
    target.write_bytes(b"old")
    monkeypatch.setattr(fsguard, "ON_WINDOWS", True)

    def locked(path, table):  # xlsxwriter wraps the OSError of its final write
        raise xlsxwriter.exceptions.FileCreateError(PermissionError(errno.EACCES, "Permission denied", str(path)))

    monkeypatch.setattr(period_outputs, "write_history_xlsx", locked)
    result, flat = invoke("history", "--out", site / "outputs", "--xlsx", target)
    assert result.exit_code == 2
    assert f"文件「{target}」正被其他程序（如 Excel、WPS 或 Word）打开" in flat and "请先关闭该文件再重试" in flat
    result, flat = invoke("history", "--out", site / "outputs", "--xlsx", site)
    assert result.exit_code == 2 and "是一个文件夹，不能作为文件写入" in flat


def test_every_errno_a_user_can_fix_has_its_own_sentence(tmp_path):
    path = tmp_path / "a" / "汇总表.xlsx"
    cases = {errno.EACCES: "没有权限", errno.EPERM: "没有权限", errno.EROFS: "只读", errno.ENOSPC: "磁盘空间不足",
             errno.ENAMETOOLONG: "太长", errno.EISDIR: "是一个文件夹", errno.ENOENT: "找不到"}
    for code, words in cases.items():
        problem = fsguard.os_problem(OSError(code, "x", str(path)))
        assert words in str(problem) and str(path) in str(problem), code
    # pyarrow reports ENOSPC only in its text
    assert "磁盘空间不足" in str(fsguard.os_problem(OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")))
    (tmp_path / "a").write_text("", encoding="utf-8")
    problem = fsguard.os_problem(OSError(errno.ENOTDIR, "Not a directory", str(path)))
    assert f"「{tmp_path / 'a'}」是一个文件" in str(problem)


# --------------------------------------------------------------------------- damaged archives are named


def _second_period(site: Path) -> None:
    """A 2023 period beside 2024, so history has another period to list."""
    sheets = small_scheme_sheets()
    meta = sheets["方案"].copy()
    meta.loc[meta["项目"] == "考核周期", "值"] = "2023"
    sheets["方案"] = meta
    scheme_path = write_workbook(site / "scheme2023.xlsx", sheets)
    inbox = make_inbox(site / "inbox2023", load_scheme(scheme_path))
    pipeline.run(inbox, scheme_path, out_root=site / "outputs", issued_on=ISSUED, workers=1)


DAMAGES = {
    "truncated manifest": ("manifest.json", lambda p: p.write_bytes(p.read_bytes()[:200]), "内容不完整，可能被截断"),
    "manifest of wrong types": ("manifest.json", lambda p: p.write_text(json.dumps({"period": "2024", "files": [{"path": 1}]}),
                                                                         encoding="utf-8"), "文件清单第 1 项"),
    "truncated parquet": ("totals.parquet", lambda p: p.write_bytes(p.read_bytes()[:100]), "不是完整的 Parquet 文件"),
    "parquet of wrong types": ("totals.parquet", lambda p: pd.read_parquet(p).astype({"total": str}).to_parquet(p),
                               "「total」列应为数值"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_history_lists_the_other_periods_and_names_the_damaged_one(site, damage):
    _second_period(site)
    name, spoil, words = DAMAGES[damage]
    spoil(site / "outputs" / "2024" / name)
    result, flat = invoke("history", "--out", site / "outputs")
    assert result.exit_code == 1
    assert "没有找到已归档的考核周期" not in flat
    assert f"2024 期归档中的「{name}」已损坏" in flat and words in flat
    assert "2023" in flat and "东城镇" in flat  # the intact period is still listed


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_verify_names_the_damaged_file_and_period(site, damage):
    name, spoil, words = DAMAGES[damage]
    spoil(site / "outputs" / "2024" / name)
    result, flat = invoke("verify", "2024", "--out", site / "outputs")
    assert result.exit_code == 1
    assert f"2024 期归档中的「{name}」已损坏" in flat and words in flat


def test_gap_simulate_and_mail_name_a_damaged_manifest(site):
    spoil = DAMAGES["truncated manifest"][1]
    spoil(site / "outputs" / "2024" / "manifest.json")
    for args in (["gap", "2024"], ["simulate", "2024", "--set", "T01:A1=100"], ["mail", "2024", "--dry-run"]):
        result, flat = invoke(*args, "--out", site / "outputs")
        assert result.exit_code == 2, args
        assert "2024 期归档中的「manifest.json」已损坏" in flat, args


def test_mail_names_a_damaged_totals_table(site):
    DAMAGES["parquet of wrong types"][1](site / "outputs" / "2024" / "totals.parquet")
    result, flat = invoke("mail", "2024", "--dry-run", "--out", site / "outputs")
    assert result.exit_code == 2 and "2024 期归档中的「totals.parquet」已损坏" in flat and "未发送任何邮件" in flat


# --------------------------------------------------------------------------- verify re-derives what people read


def _rewrite_manifest(folder: Path) -> None:
    """What someone covering an edit does: record the edited files' new hashes."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def test_untouched_period_verifies_including_the_rendered_outputs(site):
    result, flat = invoke("verify", "2024", "--out", site / "outputs")
    assert result.exit_code == 0, flat
    assert "汇总表、通报、反馈表和 csv 与重新生成的一致" in flat


def test_verify_catches_an_edited_totals_csv_with_the_manifest_rewritten(site):
    folder = site / "outputs" / "2024"
    path = folder / "totals.csv"
    text = path.read_text(encoding="utf-8-sig")
    # T01 scores 94 (see test_archive): the edit gives it 99.00 in the file people read.
    assert "2024,T01,东城镇,乡镇,94.00,0.00,0.00,94.00,1,优秀,否" in text
    path.write_text(text.replace("94.00,1,优秀", "99.00,1,优秀"), encoding="utf-8-sig", newline="")
    _rewrite_manifest(folder)
    result, flat = invoke("verify", "2024", "--out", site / "outputs")
    assert result.exit_code == 1
    assert "totals.csv 第 2 行「总分」：文件中为「99.00」，重算为「94.00」" in flat
    assert "核验通过" not in flat


def test_verify_catches_an_edited_summary_cell_with_the_manifest_rewritten(site):
    folder = site / "outputs" / "2024"
    workbook = load_workbook(folder / "汇总表.xlsx")
    sheet = workbook["总排名"]
    header = [c.value for c in sheet[2]]
    row = next(r for r in range(3, sheet.max_row + 1) if sheet.cell(r, header.index("单位代码") + 1).value == "T02")
    grade = sheet.cell(row, header.index("等次") + 1)
    assert grade.value == "良好"  # 86.39 is above 80 (良好) and below 90 (优秀)
    grade.value = "优秀"
    workbook.save(folder / "汇总表.xlsx")
    _rewrite_manifest(folder)
    result, flat = invoke("verify", "2024", "--out", site / "outputs")
    assert result.exit_code == 1
    assert f"汇总表.xlsx「总排名」表 {grade.coordinate}：文件中为「优秀」，重算为「良好」" in flat


def test_verify_catches_an_edited_feedback_workbook_and_notice(site):
    folder = site / "outputs" / "2024"
    feedback = folder / "反馈" / "T01_东城镇.xlsx"
    workbook = load_workbook(feedback)
    sheet = workbook.worksheets[0]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == 94)
    cell.value = 97
    workbook.save(feedback)
    from docx import Document

    notice = Document(str(folder / "通报.docx"))
    paragraph = next(p for p in notice.paragraphs if "东城镇" in p.text)
    paragraph.runs[0].text = paragraph.runs[0].text + "（附加）"
    notice.save(str(folder / "通报.docx"))
    _rewrite_manifest(folder)
    result, flat = invoke("verify", "2024", "--out", site / "outputs")
    assert result.exit_code == 1
    assert f"反馈/T01_东城镇.xlsx「{sheet.title}」表 {cell.coordinate}：文件中为「97」，重算为「94」" in flat
    assert "通报.docx 第" in flat and "（附加）" in flat


# --------------------------------------------------------------------------- no duplicate mail after a drop


class DroppingServer:
    """Accepts the message, then hangs up before the 250: the client cannot know it was delivered."""

    def __init__(self):
        self.received: list[tuple[list[str], bytes]] = []
        self.drop_after_data: set[str] = set()
        self.drop_at_rcpt: set[str] = set()  # hang up once at RCPT for these (nothing sent yet)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.drop_at_rcpt:
            self.drop_at_rcpt.discard(address)
            server.transport.close()
            return "421 closing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        if set(envelope.rcpt_tos) & self.drop_after_data:
            server.transport.close()
            return "250 never heard"
        return "250 2.0.0 OK queued"

    def copies(self, address: str) -> int:
        return sum(address in rcpts for rcpts, _ in self.received)


@pytest.fixture
def dropping(site, monkeypatch):
    handler = DroppingServer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), authenticator=_authenticator,
                                auth_required=True, auth_require_tls=False, ready_timeout=READY)
        controller.start()
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    handler.config = write_config(site / "kaohe.toml", controller.port)
    yield handler
    controller.stop()


def test_drop_after_data_is_unconfirmed_and_sent_again_only_with_resend(site, dropping):
    t01 = "t01@example.gov.cn"
    dropping.drop_after_data = {t01}
    out = site / "outputs"
    with pytest.raises(MailSendError, match="未确认") as caught:
        mail.send_period(out, "2024", dropping.config, only=["T01", "T02"], template_dir=None, sleep=lambda s: None)
    statuses = {o.unit_code: o.status for o in caught.value.report.outcomes}
    assert statuses["T01"] == mail.UNCONFIRMED
    assert dropping.copies(t01) == 1  # not retried at once: the unit has exactly one copy
    dropping.drop_after_data = set()
    # A plain rerun sends what was not attempted and leaves T01 alone, saying why, in Chinese.
    result, flat = invoke("mail", "2024", "--out", out, "--config", dropping.config, "--only", "T01,T02")
    assert result.exit_code == 1
    assert "未确认" in flat and "--resend --only T01" in flat
    assert dropping.copies(t01) == 1 and dropping.copies("t02@example.gov.cn") == 1
    records = [json.loads(line) for line in (out / "2024" / mail.LOG_NAME).read_text(encoding="utf-8").splitlines()]
    assert [r["status"] for r in records if r["unit_code"] == "T01"] == ["sending", "unconfirmed"]
    result, flat = invoke("mail", "2024", "--out", out, "--config", dropping.config, "--only", "T01", "--resend")
    assert result.exit_code == 0 and "已发送" in flat
    assert dropping.copies(t01) == 2


def test_drop_before_any_content_is_retried_and_delivered_once(site, dropping):
    dropping.drop_at_rcpt = {"t01@example.gov.cn"}
    report_ = mail.send_period(site / "outputs", "2024", dropping.config, only=["T01"], template_dir=None,
                               sleep=lambda s: None)
    assert [o.status for o in report_.outcomes] == [mail.SENT]
    assert dropping.copies("t01@example.gov.cn") == 1
    message = email.message_from_bytes(dropping.received[0][1], policy=policy.default)
    assert message["Subject"].startswith("测试县2024年度考核结果反馈")


def test_windows_lock_on_a_period_folder_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(fsguard, "ON_WINDOWS", True)
    locked = OSError(errno.EACCES, "Access is denied", str(tmp_path))
    locked.winerror = 32  # ERROR_SHARING_VIOLATION, as os.rename gives while Excel holds a file inside
    assert isinstance(fsguard.os_problem(locked), fsguard.FileInUse)
    assert f"文件夹「{tmp_path}」中有文件正被其他程序" in str(fsguard.os_problem(locked))
    denied = fsguard.os_problem(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "新")))
    assert "没有权限写入" in str(denied) and "Excel" in str(denied)


def test_verify_renders_the_comparison_with_the_baseline_and_names_a_rerun_baseline(site):
    _second_period(site)  # 2023, archived after 2024: re-run 2024 so that it compares with 2023
    pipeline.run(site / "inbox", site / "scheme.xlsx", out_root=site / "outputs", issued_on=ISSUED, workers=1)
    manifest = json.loads((site / "outputs" / "2024" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["compared_to"] == "2023"
    result, flat = invoke("verify", "2024", "--out", site / "outputs")
    assert result.exit_code == 0, flat
    # 2023 re-run on other figures: 2024's 上期 columns can no longer be rendered as they were
    fill_unit(site / "inbox2023" / FILES["T01"], {"A1": 60})
    pipeline.run(site / "inbox2023", site / "scheme2023.xlsx", out_root=site / "outputs", issued_on=ISSUED, workers=1)
    result, flat = invoke("verify", "2024", "--out", site / "outputs")
    assert result.exit_code == 1 and "与 2023 期作了纵向比较，但该期结果在本期运行后已改变" in flat


def test_check_report_over_a_folder_is_refused_before_reading(site):
    (site / "问题.xlsx").mkdir()
    result, flat = invoke("check", site / "inbox", "--scheme", site / "scheme.xlsx", "--report", site / "问题.xlsx")
    assert result.exit_code == 2 and "是一个文件夹，不能作为文件写入" in flat


def test_seal_names_a_damaged_manifest(site):
    DAMAGES["manifest of wrong types"][1](site / "outputs" / "2024" / "manifest.json")
    result, flat = invoke("seal", "2024", "--out", site / "outputs")
    assert result.exit_code == 2 and "2024 期归档中的「manifest.json」已损坏" in flat
    assert not (site / "outputs" / "2024" / "SEALED.json").exists()
