"""The page's 封存 applies the rule of `kaohe seal`: while 公示 runs it refuses unless the
「公示期未满仍要封存」 box (the --force of the command) is ticked."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

pytest.importorskip("starlette", reason="starlette is not installed (pip install -e .[test])")
pytest.importorskip("httpx", reason="httpx is needed by starlette's test client (pip install -e .[test])")

from starlette.testclient import TestClient  # noqa: E402

from kaohe_excel.web.app import create_app  # noqa: E402
from kaohe_excel.web.folder import discover  # noqa: E402
from web_helpers import SAMPLE_INPUTS, make_work_folder, wait_for_jobs  # noqa: E402


def test_seal_during_publication_needs_the_checkbox(tmp_path):
    root = make_work_folder(tmp_path / "工作")
    client = TestClient(create_app(discover(root)), base_url="http://127.0.0.1", follow_redirects=False)
    token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"|name="csrf_token" value="([0-9a-f]+)"', client.get("/").text)
    token = token.group(1) or token.group(2)
    client.post("/inbox/upload", headers={"X-CSRF-Token": token},
                files=[("files", (p.name, p.read_bytes(), "application/octet-stream"))
                       for p in sorted(SAMPLE_INPUTS.glob("*.xlsx"))])
    wait_for_jobs(client.app)
    assert client.post("/score", data={"csrf_token": token, "allow_errors": "1"}).status_code == 303
    wait_for_jobs(client.app)
    folder = root / "outputs" / "2024"
    # The sample's 公示 is long over; put this period in the middle of one ending in ten days.
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    end = date.today() + timedelta(days=10)
    manifest["publication"] = {"start": (date.today() - timedelta(days=2)).isoformat(), "end": end.isoformat(),
                               "days": 5}
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    end_zh = f"{end.year}年{end.month}月{end.day}日"

    page = client.get("/results/2024").text
    assert "公示期未满仍要封存" in page and f"公示期至{end_zh}结束" in page

    refused = client.post("/results/2024/seal", data={"csrf_token": token, "by": "张三"})
    assert refused.status_code == 409
    assert f"公示期至{end_zh}结束，尚未期满" in refused.text
    assert "请勾选「公示期未满仍要封存」" in refused.text and "--force" not in refused.text
    assert not (folder / "SEALED.json").exists()

    sealed = client.post("/results/2024/seal", data={"csrf_token": token, "by": "张三", "force": "1"})
    assert sealed.status_code == 200 and "2024 期已封存" in sealed.text
    assert json.loads((folder / "SEALED.json").read_text(encoding="utf-8"))["by"] == "张三"
