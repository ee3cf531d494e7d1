"""The page in a real browser (headless Chromium driven by Selenium): a whole period from an
empty inbox without the terminal, a hostile unit name that must stay text, the offline
dashboard. Screenshots of each page go to tests/screenshots/ (git-ignored) for a person to look at.

One server per working folder and one browser for the module keep this quick.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from web_helpers import HOSTILE_NAME, SAMPLE_INPUTS, make_hostile_folder, make_work_folder, sample_issue_counts

SCREENSHOTS = Path(__file__).parent / "screenshots"
WIDTH, HEIGHT = 1366, 768


def _skip(reason: str):
    print(f"\n[test_web_browser] 跳过浏览器测试：{reason}", file=sys.stderr)
    pytest.skip(reason)


try:
    import uvicorn
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as exc:  # reported, never silent
    _MISSING = f"缺少 {exc.name}（pip install -e .[test]）"
else:
    _MISSING = ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Server:
    def __init__(self, root: Path):
        from kaohe_excel.web.app import create_app
        from kaohe_excel.web.folder import discover

        self.app = create_app(discover(root))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if _MISSING:
        _skip(_MISSING)
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        _skip("找不到 chromium 或 chromedriver（Debian：apt-get install -y chromium chromium-driver）")
    downloads = tmp_path_factory.mktemp("downloads")
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=zh-CN",
                f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a driver online
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except WebDriverException as exc:
        _skip(f"无法启动 Chromium：{str(exc).splitlines()[0]}")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_window_size(WIDTH, HEIGHT)
    driver.downloads = downloads
    SCREENSHOTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    server = _Server(make_work_folder(tmp_path_factory.mktemp("browser") / "工作"))
    yield server
    server.stop()


def _wait(driver, condition, timeout: float = 60):
    # Pages reload themselves when a job ends: an element found a moment ago may be gone.
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException]).until(condition)


def _shot(driver, name: str, full: bool = False) -> None:
    """The page as the user sees it at 1366×768; `full` adds the whole page's length as a second picture."""
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(WIDTH, min(max(height, HEIGHT), 6000))
        time.sleep(0.2)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}_整页.png"))
        driver.set_window_size(WIDTH, HEIGHT)


def _fits_width(driver) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def _no_alert(driver) -> bool:
    try:
        driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def _expected_ranking() -> dict[str, list[str]]:
    """Unit codes per group in ranking order, scored in memory by the library from the sample inbox."""
    from kaohe_excel.jobs import pipeline
    from kaohe_excel.scheme.workbook import load_scheme

    scheme = load_scheme(SAMPLE_INPUTS.parent / "templates" / "scheme.xlsx")
    ranked = pipeline.score_period(scheme, pipeline.read_and_validate(scheme, SAMPLE_INPUTS, workers=1)).ranked
    ranked = ranked.sort_values(["group", "order"])
    return {g: list(part["unit_code"]) for g, part in ranked.groupby("group", sort=False)}


def _summary_ranking(path: Path) -> dict[str, list[str]]:
    sheet = load_workbook(path, read_only=True)["总排名"]
    rows = list(sheet.iter_rows(values_only=True))
    header_at = next(i for i, row in enumerate(rows) if row and "单位代码" in row)
    header = list(rows[header_at])
    group_col, code_col = header.index("考核类别"), header.index("单位代码")
    ranking: dict[str, list[str]] = {}
    for row in rows[header_at + 1:]:
        if row and row[code_col]:
            ranking.setdefault(row[group_col], []).append(row[code_col])
    return ranking


def test_a_whole_period_without_the_terminal(browser, fresh_server, tmp_path_factory):
    d, base = browser, fresh_server.url
    d.get(base + "/")
    _wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "ol.steps li.next")))
    _shot(d, "01_首页_开始")

    # 收表: the sample inbox through the file picker (the drop zone posts the same form).
    d.get(base + "/inbox")
    picker = _wait(d, EC.presence_of_element_located((By.ID, "files")))
    samples = sorted(SAMPLE_INPUTS.glob("*.xlsx"))
    picker.send_keys("\n".join(str(p) for p in samples))
    _wait(d, lambda drv: len(drv.find_elements(By.CSS_SELECTOR, "#received tbody tr")) == len(samples), timeout=90)
    assert len(d.find_elements(By.XPATH, "//table[@id='received']//span[text()='已保存']")) == len(samples)
    _shot(d, "02_收表_上传后")
    # The check starts by itself; the status part of the page follows it.
    _wait(d, lambda drv: "有问题 0" in drv.find_element(By.ID, "unit-counts").text
          and "已报送 21" in drv.find_element(By.ID, "unit-counts").text and not drv.find_elements(By.ID, "checking"),
          timeout=90)
    assert _fits_width(d)
    _shot(d, "03_收表_报送情况", full=True)

    # 校验: the sample inbox has no error and two warnings.
    d.get(base + "/check")
    counts = _wait(d, EC.presence_of_element_located((By.ID, "issue-counts")))
    errors, warnings = sample_issue_counts(tmp_path_factory.mktemp("expected"))
    assert (counts.get_attribute("data-errors"), counts.get_attribute("data-warnings")) == ("0", str(warnings))
    assert "错误 0 个" in counts.text and f"警告 {warnings} 个" in counts.text
    Select(d.find_element(By.ID, "filter-unit")).select_by_value("XZ08")
    _wait(d, lambda drv: "XZ08" in drv.current_url)
    rows = _wait(d, lambda drv: drv.find_elements(By.CSS_SELECTOR, "#issues-table tbody tr"))
    assert len(rows) == 1 and "XZ08" in rows[0].text
    _shot(d, "04_校验")

    # 计分: the button starts the job; the bar follows it to the end.
    d.get(base + "/score")
    button = _wait(d, EC.element_to_be_clickable((By.ID, "start-scoring")))
    button.click()
    _wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#job[data-job-kind='run']")))
    _shot(d, "05_计分_进行中")
    _wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#job[data-job-state='done']")), timeout=120)
    assert d.find_element(By.ID, "job-percent").text == "100%"
    _shot(d, "06_计分_完成")

    # 结果: the ranking per group, a bar chart each, then a unit's page.
    d.find_element(By.ID, "job-results").click()
    _wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "table.ranking")))
    _wait(d, lambda drv: len(drv.find_elements(By.CSS_SELECTOR, ".chart canvas")) == 3)
    expected = _expected_ranking()
    shown = {}
    for section in d.find_elements(By.CSS_SELECTOR, "section[data-group]"):
        shown[section.get_attribute("data-group")] = [tr.get_attribute("data-unit") for tr in
                                                      section.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert shown == expected
    assert _fits_width(d)
    _shot(d, "07_结果", full=True)
    # As Chrome's print dialog does: the page's own @page size (A4) rather than the driver's default Letter.
    pdf = base64.b64decode(d.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"])
    _pdf_is_a4(pdf, "08_结果_打印A4")

    d.find_element(By.CSS_SELECTOR, "section[data-group] tbody tr a").click()
    _wait(d, EC.presence_of_element_located((By.ID, "unit-scores")))
    assert d.find_element(By.ID, "gap") and "差距分析" in d.page_source
    _shot(d, "09_单位得分", full=True)

    # 汇总表 through the page's own link: it opens, with the same ranking.
    d.back()
    _wait(d, EC.presence_of_element_located((By.ID, "downloads")))
    d.find_element(By.LINK_TEXT, "汇总表.xlsx").click()
    target = d.downloads / "汇总表.xlsx"
    _wait(d, lambda drv: target.is_file() and not list(d.downloads.glob("*.crdownload")), timeout=30)
    assert _summary_ranking(target) == expected

    # 封存 from the page: the period was scored today, so its 公示 is running and the page asks for the box.
    d.find_element(By.NAME, "by").send_keys("张三")
    d.find_element(By.CSS_SELECTOR, "#seal-force input[name='force']").click()
    d.find_element(By.ID, "seal-button").click()
    message = _wait(d, EC.presence_of_element_located((By.ID, "results-message")))
    assert "已封存" in message.text
    _shot(d, "10_结果_已封存")

    # 历史 and 模拟.
    d.get(base + "/history")
    _wait(d, lambda drv: len(drv.find_elements(By.CSS_SELECTOR, ".chart canvas")) == 3)
    _shot(d, "11_历史", full=True)
    d.get(base + "/simulate?period=2024&unit=XZ06")
    field = _wait(d, EC.presence_of_element_located((By.NAME, "v_A02")))
    field.clear()
    field.send_keys("1.0")
    d.find_element(By.ID, "sim-run").click()
    result = _wait(d, EC.presence_of_element_located((By.ID, "sim-result")))
    assert "XZ06:A02=1.0" in result.text
    changed = [tr.text for tr in d.find_elements(By.CSS_SELECTOR, "#sim-totals tbody tr") if "XZ06" in tr.text]
    assert changed and " 0.00 " not in f" {changed[0]} "  # 石门乡's total moved
    _shot(d, "12_模拟", full=True)

    d.get(base + "/")
    assert not d.find_elements(By.CSS_SELECTOR, "ol.steps li.next")  # every step done
    _shot(d, "13_首页_完成")


def _pdf_is_a4(pdf: bytes, name: str) -> None:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert boxes, "no page in the printed PDF"
    width, height = (float(v) for v in boxes[0])
    assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2, (width, height)  # A4 portrait in points
    (SCREENSHOTS / f"{name}.pdf").write_bytes(pdf)
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(SCREENSHOTS / f"{name}.pdf"),
                        str(SCREENSHOTS / name)], check=False, timeout=60)


def test_hostile_unit_name_runs_nothing(browser, tmp_path_factory):
    from kaohe_excel.jobs import pipeline
    from kaohe_excel.web.folder import discover

    work = discover(make_hostile_folder(tmp_path_factory.mktemp("hostile") / "工作"))
    pipeline.run(work.inbox, work.scheme, out_root=work.outputs, allow_errors=True, workers=1)
    server = _Server(work.root)
    try:
        d = browser
        for path in ["/inbox", "/results/2024", "/results/2024/unit/T01", "/history", "/simulate?period=2024&unit=T01"]:
            d.get(server.url + path)
            _wait(d, EC.presence_of_element_located((By.ID, "main")))
            time.sleep(0.3)  # an injected onerror would have fired by now
            assert _no_alert(d), path
            assert d.execute_script("return window.__pwned === undefined"), path
            assert not d.find_elements(By.CSS_SELECTOR, "main img, main script:not([type='application/json'])"), path
            assert HOSTILE_NAME in d.find_element(By.ID, "main").text, path  # shown, as text
        _shot(d, "14_恶意单位名称_单位页")
        d.get((work.outputs / "2024" / "结果看板.html").as_uri())
        _wait(d, lambda drv: len(drv.find_elements(By.CSS_SELECTOR, ".chart canvas")) >= 2)
        assert d.execute_script("return window.__pwned === undefined") and _no_alert(d)
        assert HOSTILE_NAME in d.find_element(By.TAG_NAME, "main").text
    finally:
        server.stop()


def test_dashboard_opens_offline_with_its_charts(browser, fresh_server):
    board = fresh_server.app.state.kaohe.work.outputs / "2024" / "结果看板.html"
    if not board.is_file():
        pytest.fail("结果看板.html missing: the whole-period test must run first in this module")
    d = browser
    d.get(board.as_uri())
    _wait(d, lambda drv: len(drv.find_elements(By.CSS_SELECTOR, ".chart canvas")) == 6)  # 3 groups × (排名 + 历史)
    fetched = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [u for u in fetched if u.startswith(("http:", "https:"))]
    assert len(d.find_elements(By.CSS_SELECTOR, "table.ranking tbody tr")) == 21
    _shot(d, "15_结果看板_离线", full=True)
