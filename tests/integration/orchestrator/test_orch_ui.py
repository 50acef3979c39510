"""The `/ui` dashboard in a real headless Chromium (Debian `chromium` + `chromium-driver`).

Set `ORCHESTRATOR_UI_SCREENSHOT=docs/dashboard.png` to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT

from .conftest import EXAMPLES, dockerinfo_for, load, long_params

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DIAMOND = load(EXAMPLES / "diamond" / "blueprint.json")


@pytest.fixture
def browser(tmp_path):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = f"browser test skipped: {', '.join(missing)} missing (Debian packages chromium, chromium-driver)"
        print(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1440,820"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_orch_ui_live_graph_details_and_cancel(orch, service, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    orch.start_worker()
    di = dockerinfo_for(DIAMOND, service.port)
    quick = orch.submit(DIAMOND, di, workflow_id="ui-quick", parameters=long_params(
        DIAMOND, 0.3, 3, left={"duration": 1.2, "steps": 12}, right={"duration": 3.5, "steps": 35},
        sink={"duration": 0.8, "steps": 8}))["workflow_id"]
    slow = orch.submit(DIAMOND, di, workflow_id="ui-slow", parameters=long_params(
        DIAMOND, 0.1, 1, left={"duration": 30, "steps": 300}, right={"duration": 30, "steps": 300}))["workflow_id"]

    wait = WebDriverWait(browser, 20, poll_frequency=0.05)

    def node(name: str, status: str | None = None) -> str:
        return f'#graph g.node[data-node="{name}"]' + (f'[data-status="{status}"]' if status else "")

    browser.get(f"{orch.base}/ui#/wf/{quick}")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("sink.LongProcess"))))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph g.node")) == 4
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph path.edge")) == 4
    # live: left turns complete while right is still running with some progress
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("left.LongProcess", "complete"))))
    right = browser.find_element(By.CSS_SELECTOR, node("right.LongProcess"))
    assert right.get_attribute("data-status") == "running", right.get_attribute("data-status")
    wait.until(lambda d: 0 < int(d.find_element(By.CSS_SELECTOR, node("right.LongProcess"))
                                 .get_attribute("data-progress")) < 100)
    browser.find_element(By.CSS_SELECTOR, node("left.LongProcess")).click()  # details of a finished node
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '#details td[data-field="task id"]'), quick))
    shot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("ORCHESTRATOR_UI_SCREENSHOT"):
        shutil.copy(shot, ROOT / os.environ["ORCHESTRATOR_UI_SCREENSHOT"])
    api_left = httpx.get(f"{orch.base}/workflows/{quick}/tasks/left.LongProcess", timeout=5).json()
    details = browser.find_element(By.ID, "details").text
    assert api_left["task_id"] in details and service.url in details and "complete" in details
    # the whole run ends complete, in the graph and in the header
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("sink.LongProcess", "complete"))))
    wait.until(ec.text_to_be_present_in_element((By.ID, "wf-status"), "complete"))
    assert browser.find_element(By.ID, "retry-btn").get_attribute("disabled")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'li.wf[data-id="{quick}"][data-status="complete"]')))

    # the other run, opened from the list, cancelled with its button
    browser.find_element(By.CSS_SELECTOR, f'li.wf[data-id="{slow}"]').click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("left.LongProcess", "running"))))
    wait.until(ec.element_to_be_clickable((By.ID, "cancel-btn"))).click()
    wait.until(ec.alert_is_present())
    browser.switch_to.alert.accept()
    wait.until(ec.text_to_be_present_in_element((By.ID, "wf-status"), "cancelled"))
    for name in ("left.LongProcess", "right.LongProcess", "sink.LongProcess"):
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node(name, "cancelled"))))
    assert browser.find_element(By.CSS_SELECTOR, node("source.LongProcess")).get_attribute("data-status") == "complete"
    assert orch.workflow(slow)["status"] == "cancelled"
    assert browser.find_element(By.ID, "retry-btn").is_enabled()
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
