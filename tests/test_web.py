"""The web page's routes through Starlette's test client: a whole period from an empty inbox,
and the defences (CSRF, Host, paths, hostile names, upload limits)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

pytest.importorskip("starlette", reason="starlette is not installed (pip install -e .[test])")
pytest.importorskip("httpx", reason="httpx is needed by starlette's test client (pip install -e .[test])")

from starlette.testclient import TestClient  # noqa: E402

from kaohe_excel.jobs import pipeline  # noqa: E402
from kaohe_excel.scheme.workbook import load_scheme  # noqa: E402
from kaohe_excel.web.app import bind_host, create_app, lan_password  # noqa: E402
from kaohe_excel.web.folder import discover  # noqa: E402
from web_helpers import (SAMPLE_INPUTS, make_hostile_folder, make_work_folder,  # noqa: E402
                         sample_issue_counts, wait_for_jobs)

BASE = "http://127.0.0.1"


def _client(root: Path, **kwargs) -> TestClient:
    app = create_app(discover(root), **kwargs)
    return TestClient(app, base_url=BASE, follow_redirects=False)


def _token(client: TestClient) -> str:
    page = client.get("/").text
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1) if "csrf_token" in page else \
        re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page).group(1)


def _upload(client: TestClient, token: str, files: list[tuple[str, bytes]]):
    return client.post("/inbox/upload", headers={"X-CSRF-Token": token},
                       files=[("files", (name, data, "application/octet-stream")) for name, data in files])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def period(tmp_path_factory):
    """A working folder where the sample inbox was uploaded and scored through the page."""
    root = make_work_folder(tmp_path_factory.mktemp("web") / "工作")
    client = _client(root)
    token = _token(client)
    samples = sorted(SAMPLE_INPUTS.glob("*.xlsx"))
    response = _upload(client, token, [(p.name, p.read_bytes()) for p in samples])
    wait_for_jobs(client.app)
    return {"root": root, "client": client, "token": token, "samples": samples, "upload": response}


@pytest.fixture(scope="module")
def scored(period):
    client, token = period["client"], period["token"]
    response = client.post("/score", data={"csrf_token": token})
    assert response.status_code == 303
    wait_for_jobs(client.app)
    return period


def test_upload_stores_files_byte_for_byte_and_lists_every_unit(period):
    response, root = period["upload"], period["root"]
    assert response.status_code == 200
    assert response.text.count('<span class="badge ok">已保存</span>') == len(period["samples"])
    for sample in period["samples"]:
        assert _sha((root / "收件箱" / sample.name).read_bytes()) == _sha(sample.read_bytes())
    page = period["client"].get("/inbox").text
    assert "已报送 21" in page and "未报送 0" in page and "有问题 0" in page
    assert page.count("下载模板</a>") == 21


def test_check_page_counts_the_sample_warnings_and_filters(period, tmp_path):
    client = period["client"]
    page = client.get("/check").text
    # The page shows the counts the library's own check gives for the same files (no error in the samples).
    errors, warnings = sample_issue_counts(tmp_path)
    assert errors == 0 and warnings > 0
    assert f'data-errors="0" data-warnings="{warnings}"' in page
    only_xz03 = client.get("/check", params={"unit": "XZ03"}).text
    table = only_xz03.split('id="issues-table"')[1].split("</table>")[0]
    assert "XZ03" in table and "XZ08" not in table
    assert 'id="no-issues"' in client.get("/check", params={"severity": "错误"}).text


def test_unit_issue_workbook_holds_only_that_unit(period):
    response = period["client"].get("/check/unit/XZ08")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    text = " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "XZ08" in text and "XZ03" not in text
    assert period["client"].get("/check/report.xlsx").status_code == 200
    assert period["client"].get("/check/unit/NOPE").status_code == 404


def test_duplicate_and_same_name_uploads_are_flagged(period, tmp_path):
    client, token, root = period["client"], period["token"], period["root"]
    sample = period["samples"][0]
    again = _upload(client, token, [(sample.name, sample.read_bytes())])
    assert "内容完全相同，未重复保存" in again.text
    assert len(list((root / "收件箱").iterdir())) == len(period["samples"])
    changed = sample.read_bytes() + b"\0"  # same name, other bytes: kept beside the first, never over it
    response = _upload(client, token, [(sample.name, changed)])
    stem = Path(sample.name).stem
    saved = root / "收件箱" / f"{stem} (2).xlsx"
    assert saved.read_bytes() == changed and (root / "收件箱" / sample.name).read_bytes() == sample.read_bytes()
    assert "另存为" in response.text
    moved = client.post("/inbox/remove", data={"csrf_token": token, "name": saved.name})
    assert moved.status_code == 200 and not saved.exists()
    assert any(p.read_bytes() == changed for p in (root / ".kaohe-web" / "已移出收件箱").iterdir())
    wait_for_jobs(client.app)


def test_hostile_file_names_stay_inside_the_inbox(tmp_path):
    root = make_work_folder(tmp_path / "w")
    client = _client(root)
    token = _token(client)
    data = next(SAMPLE_INPUTS.glob("XZ02_*.xlsx")).read_bytes()
    response = _upload(client, token, [("../../逃逸.xlsx", data), ("..\\..\\C盘.xlsx", data + b"1"),
                                       ("程序.exe", b"MZ..."), ("~$锁定.xlsx", data + b"2"), ("空.xlsx", b"")])
    assert response.status_code == 200
    names = sorted(p.name for p in (root / "收件箱").iterdir())
    assert names == ["C盘.xlsx", "逃逸.xlsx"]
    assert not (tmp_path / "逃逸.xlsx").exists() and not (root / "逃逸.xlsx").exists()
    assert "只接收 Excel/WPS 表格文件" in response.text and "临时文件" in response.text and "0 字节" in response.text
    wait_for_jobs(client.app)


def test_upload_over_the_size_limit_is_not_stored(tmp_path):
    from kaohe_excel.inputs.read import ReadLimits

    root = make_work_folder(tmp_path / "w")
    client = _client(root)
    client.app.state.kaohe.read_limits = ReadLimits(max_file_bytes=1000)
    response = _upload(client, _token(client), [("大.xlsx", b"x" * 5000)])
    assert "超过 0 MB 的上限" in response.text or "上限" in response.text
    assert list((root / "收件箱").iterdir()) == []
    assert list((root / ".kaohe-web" / "uploads").iterdir()) == []  # the partial file is gone too
    wait_for_jobs(client.app)


def test_forms_need_the_session_token_and_our_origin(tmp_path):
    client = _client(make_work_folder(tmp_path / "w"))
    token = _token(client)
    refused = client.post("/check", data={})
    assert refused.status_code == 403 and "安全令牌" in refused.text and "Traceback" not in refused.text
    upload = client.post("/inbox/upload", files=[("files", ("a.xlsx", b"x"))])
    assert upload.status_code == 403 and not list((tmp_path / "w" / "收件箱").iterdir())
    other_site = client.post("/check", data={"csrf_token": token}, headers={"Origin": "http://evil.example"})
    assert other_site.status_code == 403
    assert client.post("/check", data={"csrf_token": token}).status_code == 303
    wait_for_jobs(client.app)


def test_only_local_host_names_are_served(tmp_path):
    client = _client(make_work_folder(tmp_path / "w"))
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8765"}).status_code == 200
    assert bind_host(False) == "127.0.0.1" and bind_host(True) == "0.0.0.0"
    wait_for_jobs(client.app)


def test_lan_mode_needs_a_password_from_kaohe_toml(tmp_path):
    from kaohe_excel.base.errors import KaoheError

    root = make_work_folder(tmp_path / "w")
    with pytest.raises(KaoheError, match="password"):
        lan_password(discover(root))
    (root / "kaohe.toml").write_text('[web]\npassword = "口令abc12345"\n', encoding="utf-8")
    assert lan_password(discover(root)) == "口令abc12345"
    client = _client(root, password="口令abc12345", local_only=False)
    assert client.get("/", headers={"Host": "192.0.2.10:8765"}).headers["location"] == "/login"
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf_token": token, "password": "错的"}).status_code == 403
    assert client.post("/login", data={"csrf_token": token, "password": "口令abc12345"}).status_code == 303
    assert client.get("/").status_code == 200


def test_templates_download_per_unit_and_in_bundles(period):
    client = period["client"]
    response = client.get("/template/unit/XZ01")
    assert response.status_code == 200 and "XZ01" in response.headers["content-disposition"]
    meta = dict(load_workbook(io.BytesIO(response.content))["_kaohe"].iter_rows(values_only=True))
    assert meta["单位代码"] == "XZ01"
    assert client.get("/template/unit/NOPE").status_code == 404
    assert client.get("/template/assessment").status_code == 200
    assert zipfile.ZipFile(io.BytesIO(client.get("/template/leads").content)).namelist()
    assert client.get("/template/other").status_code == 404
    # the page's bundle is what `kaohe template` writes for the same scheme: every unit's 填报表,
    # the 评定表, the 复核登记表 and each 测评 group's ballots (listed here from the scheme)
    bundle = zipfile.ZipFile(io.BytesIO(client.get("/template/all").content)).namelist()
    scheme = load_scheme(period["root"] / "考核方案.xlsx")
    units = [f"{c}_{n}.xlsx" for c, n in zip(scheme.units["unit_code"], scheme.units["unit_name"])]
    # the sample's 民主测评 MZ: 县领导 7 电子票, 干部职工 one 纸质票 entry table, 服务对象 one 汇总 table
    ballots = [f"测评票_MZ_县领导_{n}.xlsx" for n in range(1, 8)] + ["测评录入表_MZ_干部职工.xlsx", "测评汇总表_MZ_服务对象.xlsx"]
    assert set(units + ballots + ["评定表.xlsx"]) <= set(bundle)
    assert any(n.startswith("复核") for n in bundle) and len(bundle) == len(units) + len(ballots) + 2


def test_a_run_elsewhere_holding_the_archive_lock_is_reported(tmp_path):
    from kaohe_excel.storage import archive

    root = make_work_folder(tmp_path / "w")
    client = _client(root)
    token = _token(client)
    wait_for_jobs(client.app)
    with archive.outputs_lock(root / "outputs"):  # as a `kaohe run` in a terminal holds it
        busy = client.post("/score", data={"csrf_token": token, "allow_errors": "1"})
    assert busy.status_code == 409 and "正被" in busy.text and "使用" in busy.text
    assert client.app.state.kaohe.jobs.last.get("run") is None


def test_scoring_writes_the_period_as_the_cli_does(scored):
    client, root = scored["client"], scored["root"]
    job = client.app.state.kaohe.jobs.last["run"]
    assert job.state == "done", job.message
    # The same library calls the terminal's run makes, on the same files, must give the same ranking.
    scheme = load_scheme(root / "考核方案.xlsx")
    expected = pipeline.score_period(scheme, pipeline.read_and_validate(scheme, SAMPLE_INPUTS, workers=1)).ranked
    web = pd.read_parquet(root / "outputs" / "2024" / "totals.parquet")
    columns = ["unit_code", "group", "total", "rank", "grade"]
    pd.testing.assert_frame_equal(web[columns].sort_values("unit_code").reset_index(drop=True),
                                  expected[columns].sort_values("unit_code").reset_index(drop=True), check_dtype=False)
    assert 'data-job-state="done"' in client.get("/job", params={"kind": "run"}).text
    assert (root / "outputs" / "2024" / "结果看板.html").is_file()


def test_results_pages_and_downloads(scored):
    client = scored["client"]
    assert client.get("/results").headers["location"] == "/results/2024"
    page = client.get("/results/2024").text
    totals = pd.read_parquet(scored["root"] / "outputs" / "2024" / "totals.parquet")
    for name in totals["unit_name"]:
        assert name in page
    unit = client.get("/results/2024/unit/XZ01").text
    assert "城关镇" in unit and "差距分析" in unit and "失分最多的指标" in unit
    assert client.get("/results/2024/unit/NOPE").status_code == 404
    assert client.get("/results/1999").status_code == 404
    summary = client.get("/files/2024/汇总表.xlsx")
    assert summary.status_code == 200 and load_workbook(io.BytesIO(summary.content))["总排名"]
    names = zipfile.ZipFile(io.BytesIO(client.get("/files/2024/all.zip").content)).namelist()
    assert "汇总表.xlsx" in names and "通报.docx" in names and "结果看板.html" in names
    assert sum(n.startswith("反馈/") for n in names) == 21


@pytest.mark.parametrize("path", ["/files/2024/../考核方案.xlsx", "/files/2024/..%2F..%2F考核方案.xlsx",
                                  "/files/2024/%2Fetc%2Fpasswd", "/files/..%2F/汇总表.xlsx", "/files/2024/manifest.json"])
def test_no_request_path_leaves_the_archive_listing(scored, path):
    assert scored["client"].get(path, follow_redirects=True).status_code == 404


def test_history_and_simulation(scored):
    client, token = scored["client"], scored["token"]
    history = client.get("/history").text
    assert "2024" in history and "各期总分" in history
    form = client.get("/simulate", params={"period": "2024", "unit": "XZ06"}).text
    assert 'name="v_A01"' in form
    # A02 (基本满分: base 0.8, full 0.98) is XZ06's own figure; 1.0 reaches the full 8 points.
    response = client.post("/simulate", data={"csrf_token": token, "period": "2024", "unit": "XZ06", "v_A02": "1.0"})
    assert response.status_code == 200 and "模拟总分" in response.text
    from kaohe_excel.analysis import simulate

    expected = simulate.simulate(client.app.state.kaohe.simulation_base("2024"), {("XZ06", "A02"): 1.0})
    row = expected.totals.set_index("unit_code").loc["XZ06"]
    assert row["total_after"] > row["total_before"]
    assert f"{row['total_after']:.2f}" in response.text and f"{row['total_before']:.2f}" in response.text
    bad = client.post("/simulate", data={"csrf_token": token, "period": "2024", "unit": "XZ06", "v_A02": "很多"})
    assert bad.status_code == 400 and "不是数字" in bad.text


def test_history_workbook_and_mail_preview(scored):
    client, token, root = scored["client"], scored["token"], scored["root"]
    book = load_workbook(io.BytesIO(client.get("/history.xlsx").content))
    assert "明细" in book.sheetnames and len(book.sheetnames) == 4  # 明细 + one sheet per group
    assert client.post("/results/2024/mail", data={"csrf_token": token, "action": "preview"}).status_code == 303
    wait_for_jobs(client.app)
    job = client.app.state.kaohe.jobs.last["mail"]
    assert job.state == "done", job.message
    assert len(list((root / "outputs" / "2024" / "outbox").glob("*.eml"))) == len(job.result.outcomes) > 0
    assert 'id="mail-outcomes"' in client.get("/results/2024").text


def test_seal_and_verify_from_the_page(scored):
    client, token = scored["client"], scored["token"]
    verified = client.post("/results/2024/verify", data={"csrf_token": token})
    assert "核验通过" in verified.text
    # run today, so its 公示 is still running: the 「公示期未满仍要封存」 box (tests/test_web_seal_publication.py)
    sealed = client.post("/results/2024/seal", data={"csrf_token": token, "by": "张三", "force": "1"})
    assert "已封存" in sealed.text
    assert (scored["root"] / "outputs" / "2024" / "SEALED.json").is_file()
    again = client.post("/results/2024/seal", data={"csrf_token": token, "by": "张三"})
    assert again.status_code == 409 and "无需重复封存" in again.text
    home = client.get("/").text
    assert "本期已封存" in home
    client.post("/score", data={"csrf_token": token, "allow_errors": "1"})
    wait_for_jobs(client.app)
    job = client.app.state.kaohe.jobs.last["run"]
    assert job.state == "failed" and "已封存" in job.message


def test_scoring_refuses_errors_unless_allowed_and_hostile_names_stay_inert(tmp_path):
    # Only T01's blank template in the inbox: its values are missing and the other units are 未报送, all
    # errors; the scheme names T01 with markup and a script.
    root = make_hostile_folder(tmp_path / "w")
    client = _client(root)
    token = _token(client)
    client.get("/score")  # starts the check of the inbox as it is now
    wait_for_jobs(client.app)
    refused = client.post("/score", data={"csrf_token": token})
    assert refused.status_code == 409 and "未计分" in refused.text
    assert not (root / "outputs" / "2024").exists()
    assert client.post("/score", data={"csrf_token": token, "allow_errors": "1"}).status_code == 303
    wait_for_jobs(client.app)
    assert client.app.state.kaohe.jobs.last["run"].state == "done"
    for path in ["/", "/inbox", "/check", "/score", "/results/2024", "/results/2024/unit/T01", "/history",
                 "/simulate?period=2024&unit=T01"]:
        page = client.get(path).text
        assert "<script>window.__pwned" not in page and "<img src=x" not in page, path
        if path not in ("/", "/check", "/score"):
            assert "&lt;img src=x" in page or "\\u003cimg src=x" in page, path
    dashboard = (root / "outputs" / "2024" / "结果看板.html").read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in dashboard and "<img src=x" not in dashboard
    assert 'src="http' not in dashboard and "Content-Security-Policy" in dashboard


def test_error_pages_are_chinese_without_tracebacks(tmp_path):
    root = tmp_path / "空"
    root.mkdir()
    from kaohe_excel.base.errors import KaoheError

    with pytest.raises(KaoheError, match="考核方案.xlsx"):
        discover(root)
    client = _client(make_work_folder(tmp_path / "w"))
    missing = client.get("/没有这页")
    assert missing.status_code == 404 and "找不到这个页面" in missing.text
    wait_for_jobs(client.app)
    (tmp_path / "w" / "考核方案.xlsx").write_bytes(b"not a workbook")
    broken = client.get("/inbox")
    assert broken.status_code == 400 and "Traceback" not in broken.text and "方案" in broken.text
    assert "考核方案有误" in client.get("/").text


def test_serve_command_help_and_refusal(tmp_path):
    from typer.testing import CliRunner

    from kaohe_excel.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["serve", "--help"])
    assert shown.exit_code == 0 and "示例" in shown.output and "--lan" in shown.output
    refused = runner.invoke(app, ["serve", str(tmp_path), "--no-browser"])
    assert refused.exit_code == 2 and "考核方案.xlsx" in refused.output
    (tmp_path / "考核方案.xlsx").write_bytes(SAMPLE_INPUTS.joinpath("XZ01_城关镇.xlsx").read_bytes())
    lan = runner.invoke(app, ["serve", str(tmp_path), "--lan", "--no-browser"])
    assert lan.exit_code == 2 and "password" in lan.output
