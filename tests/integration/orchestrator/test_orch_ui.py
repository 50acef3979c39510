"""The `/ui` dashboard in a real headless Chromium (Debian `chromium` + `chromium-driver`).

The README's screenshots come from `python scripts/dashboard_screenshots.py` (a 200-node run).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

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
    from selenium.common.exceptions import StaleElementReferenceException
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

    # the page re-renders as events arrive: an element found may be replaced before it is used
    wait = WebDriverWait(browser, 20, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,))

    def click(css: str) -> None:
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)

    def attribute(css: str, name: str) -> str:
        return wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute(name) or "")

    def node(name: str, status: str | None = None) -> str:
        return f'#graph g.node[data-node="{name}"]' + (f'[data-status="{status}"]' if status else "")

    browser.get(f"{orch.base}/ui#/wf/{quick}")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("sink.LongProcess"))))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph g.node")) == 4
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph path.edge")) == 4
    # live: left turns complete while right is still running with some progress
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("left.LongProcess", "complete"))))
    right = attribute(node("right.LongProcess"), "data-status")
    assert right == "running", right
    wait.until(lambda d: 0 < int(d.find_element(By.CSS_SELECTOR, node("right.LongProcess"))
                                 .get_attribute("data-progress")) < 100)
    click(node("left.LongProcess"))  # details of a finished node
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '#details td[data-field="task id"]'), quick))
    shot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    api_left = httpx.get(f"{orch.base}/workflows/{quick}/tasks/left.LongProcess", timeout=5).json()
    details = wait.until(lambda d: d.find_element(By.ID, "details").text)
    assert api_left["task_id"] in details and service.url in details and "complete" in details
    # the whole run ends complete, in the graph and in the header
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("sink.LongProcess", "complete"))))
    wait.until(ec.text_to_be_present_in_element((By.ID, "wf-status"), "complete"))
    assert browser.find_element(By.ID, "retry-btn").get_attribute("disabled")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'li.wf[data-id="{quick}"][data-status="complete"]')))

    # the other run, opened from the list, cancelled with its button
    click(f'li.wf[data-id="{slow}"]')
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node("left.LongProcess", "running"))))
    wait.until(ec.element_to_be_clickable((By.ID, "cancel-btn"))).click()
    wait.until(ec.alert_is_present())
    browser.switch_to.alert.accept()
    wait.until(ec.text_to_be_present_in_element((By.ID, "wf-status"), "cancelled"))
    for name in ("left.LongProcess", "right.LongProcess", "sink.LongProcess"):
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, node(name, "cancelled"))))
    assert attribute(node("source.LongProcess"), "data-status") == "complete"
    assert orch.workflow(slow)["status"] == "cancelled"
    assert browser.find_element(By.ID, "retry-btn").is_enabled()
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def layered_blueprint(layers: int, width: int, seed: int = 7) -> dict:
    """A layered random DAG: `layers` layers of `width` nodes; every node has a parent in the layer before."""
    import random

    rnd = random.Random(seed)
    names = [[f"c{layer:02d}x{k:03d}" for k in range(width)] for layer in range(layers)]
    children: dict[str, set[str]] = {n: set() for row in names for n in row}
    for layer in range(1, layers):
        for k, name in enumerate(names[layer]):
            children[rnd.choice(names[layer - 1])].add(name)
            if rnd.random() < 0.3:
                children[names[layer - 1][(k + 1) % width]].add(name)
    nodes = [{"container_name": n, "proto_uri": "service.proto", "image": "t", "node_type": "MLModel",
              "operation_signature_list": [{"operation_signature": {"operation_name": "LongProcess"},
                                            "connected_to": [{"container_name": c, "operation_signature":
                                                              {"operation_name": "LongProcess"}}
                                                             for c in sorted(children[n])]}]}
             for row in names for n in row]
    return {"name": f"layered-{layers}x{width}", "type": "pipeline-topology/v2", "version": "2.0", "nodes": nodes}


def test_orch_ui_1000_node_workflow_fits_every_layer_and_search_finds_a_node(orch, service, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    bp = layered_blueprint(10, 100)
    wid = orch.submit(bp, dockerinfo_for(bp, service.port), workflow_id="ui-big")["workflow_id"]  # no worker: all wait
    wait = WebDriverWait(browser, 60, poll_frequency=0.1)
    browser.get(f"{orch.base}/ui#/wf/{wid}")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#graph g.node")) == 1000)
    assert browser.find_element(By.ID, "graph").get_attribute("data-layers") == "10"
    wait.until(ec.text_to_be_present_in_element((By.ID, "wf-progress-text"), "0/1000 complete"))

    def outside_view() -> list[str]:
        """Nodes whose box is not wholly inside the graph's visible area."""
        return browser.execute_script("""
            const svg = document.getElementById('graph').getBoundingClientRect();
            return [...document.querySelectorAll('#graph g.node')].filter((g) => {
              const r = g.getBoundingClientRect();
              return r.left < svg.left - 1 || r.right > svg.right + 1 || r.top < svg.top - 1 || r.bottom > svg.bottom + 1;
            }).map((g) => g.dataset.node);""")

    browser.find_element(By.ID, "zoom-in").click()
    browser.find_element(By.ID, "zoom-in").click()
    assert outside_view(), "zoomed in, some nodes should be out of view"
    browser.find_element(By.ID, "fit-btn").click()
    assert outside_view() == []  # fit to view shows every node of every layer
    assert "compact" in browser.find_element(By.ID, "graph").get_attribute("class")  # far out: plain boxes
    layers_seen = browser.execute_script(
        "return new Set([...document.querySelectorAll('#graph g.node')].map((g) => g.dataset.layer)).size")
    assert layers_seen == 10

    box = browser.find_element(By.ID, "search")
    box.send_keys("c07x042")
    wait.until(ec.text_to_be_present_in_element((By.ID, "search-count"), "1 found"))
    box.send_keys(Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '#details td[data-field="node"]'),
                                                "c07x042.LongProcess"))
    found = browser.find_element(By.CSS_SELECTOR, '#graph g.node[data-node="c07x042.LongProcess"]')
    assert "match" in found.get_attribute("class") and "selected" in found.get_attribute("class")
    assert "c07x042.LongProcess" not in outside_view()  # centred on it
    assert "compact" not in browser.find_element(By.ID, "graph").get_attribute("class")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_orch_ui_counts_agree_and_failed_run_is_not_100_percent(orch, service, browser):
    """A failed run: header, list and API agree; its never-started nodes are shown as such."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    orch.start_worker()
    params = long_params(DIAMOND, 0.1, 1, left={"duration": "bad"})  # the service refuses it: left fails
    wid = orch.submit(DIAMOND, dockerinfo_for(DIAMOND, service.port), workflow_id="ui-fail",
                      parameters=params)["workflow_id"]
    wf = orch.wait(wid)
    assert wf["status"] == "failed", wf
    wait = WebDriverWait(browser, 20, poll_frequency=0.05)
    browser.get(f"{orch.base}/ui#/wf/{wid}")
    wait.until(ec.text_to_be_present_in_element((By.ID, "wf-status"), "failed"))
    text = browser.find_element(By.ID, "wf-progress-text").text
    progress = float(browser.find_element(By.ID, "wf-progress-text").get_attribute("data-progress"))
    assert progress < 100 and "1 failed" in text, text
    complete = sum(1 for n in wf["nodes"] if n["status"] == "complete")
    assert f"{complete}/4 complete" in text, text
    sink = browser.find_element(By.CSS_SELECTOR, '#graph g.node[data-node="sink.LongProcess"]')
    assert sink.get_attribute("data-shown") == "not started", sink.get_attribute("data-shown")
    row = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'li.wf[data-id="{wid}"]')))
    assert f"{complete}/4 complete" in row.text, row.text
    button = browser.find_element(By.ID, "jump-failed")
    assert button.is_enabled()
    button.click()
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '#details td[data-field="node"]'), "left.LongProcess"))
