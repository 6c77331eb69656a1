"""The web UI in a real headless Chromium: start a run, see the Cluster tab with every node,
crash a node from the Cluster page, see it go down and come back, open the report link.

Screenshots go to ``$PEERLOAD_SCREENSHOTS`` (default ``build/screenshots``).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.locust_run import LOG_NAME, ROOT, post, wait_until, web_ui

pytestmark = [pytest.mark.integration, pytest.mark.load]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SHOTS = Path(os.environ.get("PEERLOAD_SCREENSHOTS", ROOT / "build" / "screenshots"))

selenium = pytest.importorskip(
    "selenium", reason="selenium not installed (pip install -e '.[test]')"
)
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (.ci/run installs them)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def ui(tmp_path):
    # Long enough to outlast the clicks on a slow machine (the dashboard, and with it the
    # Cluster page's node states, stops with the run); the test stops it itself.
    args = ("--levels", "5,10", "--step-time", "60", "--stress-levels", "", "--fault-plan", "none")
    with web_ui(tmp_path, *args) as url:
        yield url, tmp_path


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, predicate, timeout=60):
    # The pages re-render every second or two: an element found a moment ago may be gone.
    return WebDriverWait(
        driver, timeout, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException]
    ).until(lambda d: predicate(d))


NODE_CELL_JS = """
const head = [...document.querySelectorAll('#nodes thead th')].map(th => th.textContent);
const row = [...document.querySelectorAll('#nodes tbody tr')]
  .find(r => r.cells[0] && r.cells[0].textContent === arguments[0]);
const cell = row ? row.cells[head.indexOf(arguments[1])] : undefined;
return cell ? cell.textContent : "";
"""


IDLE_LABEL = "no run yet"  # locustfiles.webui's, read as a user reads it (importing
# locustfiles here would monkey-patch this pytest worker with gevent)
STATUS_JS = """
const label = [...document.querySelectorAll('p,span,h6')].find(e => e.textContent === 'Status');
return label && label.nextElementSibling ? label.nextElementSibling.textContent : "";
"""


REFUSED_WHILE_VERIFYING = "the network is being verified: try again when it is done"


def post_json(url: str, **body: str) -> tuple[int, dict]:
    """A JSON POST: the status and the JSON answer, an error status included."""
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def node_cell(driver, node: str, column: str) -> str:
    """The ``column`` cell (by its heading) of ``node`` on the Cluster page, read in one step."""
    return driver.execute_script(NODE_CELL_JS, node, column)


def node_state(driver, node: str) -> str:
    return node_cell(driver, node, "State")


def click(driver, selector: str) -> None:
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector).click() or True)


def test_cluster_tab_page_crash_and_report_in_chromium(ui, browser):
    url, results = ui
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(url + "/")
    start = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait(browser, lambda d: d.execute_script(STATUS_JS) == IDLE_LABEL)  # not "READY": no verdict
    start.click()
    wait(browser, lambda d: d.execute_script(STATUS_JS) in ("running", "spawning"))

    tab = wait(browser, lambda d: d.find_element(By.XPATH, "//button[@role='tab'][.='Cluster']"))
    tab.click()
    rows = wait(
        browser,
        lambda d: (
            (r := d.find_elements(By.XPATH, "//table//tr[td[1][starts-with(., 'n')]]"))
            and len(r) == 5  # the quick profile's ring
            and r
        ),
    )
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["n1", "n2", "n3", "n4", "n5"]
    browser.save_screenshot(str(SHOTS / "cluster_tab.png"))

    # The initial verification (50 searches, 4 downloads of 32 MiB) must not see n2 crash: the
    # page refuses a fault while it runs ("resume" on a running node: harmless if it ends first).
    log = results.parent / LOG_NAME
    verified = lambda: "initial network verification passed" in log.read_text()  # noqa: E731
    if not verified():
        status, answer = post_json(url + "/peerload/cluster/action", action="resume", node="n2")
        if not verified():  # it was still running when the page answered
            assert (status, answer["error"]) == (409, REFUSED_WHILE_VERIFYING), answer
    wait_until(verified, 120, log.name)
    browser.get(url + "/peerload/cluster")
    wait(browser, lambda d: node_state(d, "n2").startswith("up"))
    pid = wait(browser, lambda d: (p := node_cell(d, "n2", "PID")).isdigit() and p)
    assert node_cell(browser, "n2", "Host").startswith("127.")  # a local node: its address
    click(browser, "button[data-action=crash][data-node=n2]")
    wait(browser, lambda d: node_state(d, "n2").startswith("down"))
    browser.save_screenshot(str(SHOTS / "cluster_page_crashed.png"))
    click(browser, "button[data-action=restart][data-node=n2]")
    wait(browser, lambda d: node_state(d, "n2").startswith("up"))
    wait(browser, lambda d: node_cell(d, "n2", "PID") not in ("-", "", pid))  # the new process
    wait(browser, lambda d: "manual-1:n2" in d.find_element(By.ID, "journal").text)
    browser.save_screenshot(str(SHOTS / "cluster_page.png"))

    post(url + "/stop")
    wait_until((results / "report.html").exists, 60, "no report after stopping the run")
    # between runs the page still shows what the buttons do to the nodes
    browser.get(url + "/peerload/cluster")
    click(browser, "button[data-action=crash][data-node=n3]")
    wait(browser, lambda d: node_state(d, "n3").startswith("down"))
    click(browser, "button[data-action=restart][data-node=n3]")
    wait(browser, lambda d: node_state(d, "n3").startswith("up"))
    click(browser, "#report-link")
    wait(browser, lambda d: "readiness" in d.title.lower() or "peerload" in d.title.lower())
    assert "crash" in browser.page_source and "manual-1" in browser.page_source
    browser.save_screenshot(str(SHOTS / "report.png"))
