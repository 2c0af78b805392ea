"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver (both paths given, so Selenium Manager downloads nothing).

The app is the real one (:class:`pipeline.api.ApiServer`, uvicorn on a free loopback port)
with a bearer token, over a SQLite store filled through the real writer, and an alert opened
by the real lifecycle on the planted ACME episode. The test works the page as a person would:
enters the token, picks the key, clicks the spike on the chart and reads the stories behind it
(a headline carrying HTML must show as text), steps to the next point with the keyboard,
opens the alert's evidence, acknowledges it and silences its key — and checks the API state
changed — then saves a screenshot and checks it is not blank. PostgreSQL is covered by the
API tests; the browser adds what only a browser can show.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import Engine

from pipeline.api import ApiServer
from pipeline.settings import load_settings
from pipeline.store import make_engine, upgrade
from tests.alerts.series_fixtures import SPIKE_KEY, World
from tests.pipeline.dashboard_fixtures import EVIL_TITLE, dashboard_world

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "dashboard-test-token-5813"
OPERATOR = "test-operator"
T = TypeVar("T")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, World]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dash')}/dash.db"
    engine = make_engine(url)
    upgrade(engine)
    # the episode started an hour ago: its evidence articles are 40 minutes old
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    world = dashboard_world(engine, now - timedelta(minutes=60))
    yield engine, world
    engine.dispose()


@pytest.fixture(scope="module")
def server(store: tuple[Engine, World]) -> Iterator[ApiServer]:
    engine, _ = store
    settings = load_settings(None, store={"url": str(engine.url)}, http={"port": 0, "token": TOKEN})
    with ApiServer(settings, engine) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are needed: `make test` installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1440,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def wait(what: Callable[[], T | None], timeout: float = 10.0, message: str = "") -> T:
    """Poll ``what`` until it returns something truthy (browser state settles asynchronously)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            got = what()
            if got:
                return got
        except (WebDriverException, AssertionError, KeyError) as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting: {message} {last or ''}".strip())


def api(server: ApiServer, path: str) -> Any:
    res = httpx.get(server.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    res.raise_for_status()
    return res.json()


def pct(v: float) -> str:
    return f"{round(v * 100)}%"


def text_of(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def test_dashboard_in_a_real_browser(
    browser: WebDriver, server: ApiServer, store: tuple[Engine, World], tmp_path: Path
) -> None:
    _, world = store
    browser.get(server.url + "/")
    assert browser.title == "finsentry"

    # 1. the server wants a token: the page says so; type it and press Enter
    banner = wait(lambda: browser.find_element(By.ID, "banner").text, message="token banner")
    assert "token" in banner

    def volume() -> str:  # "since 24h" moves with the clock: read it around the page's read
        keys = {k["key"]: k for k in api(server, "/api/keys?since=24h")["keys"]}
        return str(keys[SPIKE_KEY]["n"])

    before = volume()
    browser.find_element(By.ID, "token").send_keys(TOKEN, Keys.ENTER)
    browser.find_element(By.ID, "who").send_keys(OPERATOR, Keys.TAB)

    # 2. the alert list: the ACME alert with the detector's numbers
    [alert] = api(server, "/api/alerts")["alerts"]
    card = wait(
        lambda: browser.find_element(By.CSS_SELECTOR, f'[data-alert-id="{alert["id"]}"]'),
        message="alert card",
    )
    assert SPIKE_KEY in card.text and "firing" in card.text.lower()
    facts = card.find_element(By.CSS_SELECTOR, ".facts").text
    assert f"negative {pct(alert['observed'])} vs baseline {pct(alert['baseline'])}" in facts
    assert f"n={alert['n']}" in facts

    # 3. pick the key in the picker (its volume is shown beside it)
    button = wait(
        lambda: browser.find_element(By.CSS_SELECTOR, f'#key-list button[data-key="{SPIKE_KEY}"]'),
        message="key button",
    )
    shown = button.find_element(By.CSS_SELECTOR, ".n").text
    assert shown in {before, volume()}, shown
    button.click()
    wait(lambda: text_of(browser, "#chart-title") == SPIKE_KEY, message="chart title")
    chart = browser.find_element(By.ID, "chart")
    canvases = wait(lambda: chart.find_elements(By.TAG_NAME, "canvas"), message="canvas")
    assert len(canvases) == 2 and all(c.size["width"] > 300 for c in canvases)
    assert all(c.size["height"] > 100 for c in canvases)
    wait(lambda: "alert firing" in text_of(browser, "#chart-summary"), message="summary")

    # 4. click the bar of the bucket holding the evidence articles → its stories
    target = world.at(20) + timedelta(seconds=30)
    every = 15 * 60
    bucket = datetime.fromtimestamp(target.timestamp() // every * every, UTC)
    point = next(
        p
        for p in api(server, f"/api/series?key={SPIKE_KEY}&since=24h&every=15min")["points"]
        if datetime.fromisoformat(p["t"]) == bucket
    )
    x_min, x_max = (
        float(chart.get_attribute("data-x-min")),
        float(chart.get_attribute("data-x-max")),
    )
    over = chart.find_element(By.CSS_SELECTOR, ".u-over")
    frac = (bucket.timestamp() + every / 2 - x_min) / (x_max - x_min)
    dx = round((frac - 0.5) * over.size["width"])
    ActionChains(browser).move_to_element_with_offset(over, dx, 0).click().perform()
    readout = wait(lambda: text_of(browser, "#point"), message="point readout")
    assert f"{bucket:%H:%M}–" in readout and f"· {point['n']} articles ·" in readout
    rows = wait(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#stories tbody tr"), message="stories"
    )
    titles = [r.find_element(By.CSS_SELECTOR, ".title").text for r in rows]
    assert "ACME accused of accounting fraud by short seller" in titles
    evil = next(r for r in rows if r.get_attribute("data-id") == "acme-evil")
    assert evil.find_element(By.CSS_SELECTOR, ".title").text == EVIL_TITLE  # shown as text
    assert "negative" in evil.text and "probe" in evil.text and "<script>src</script>" in evil.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#stories img, #stories script, #stories b")
    assert not evil.find_elements(By.TAG_NAME, "a")  # a javascript: URL is never a link
    assert browser.title == "finsentry"  # no onerror ran

    # 5. the keyboard: focus the chart, step one bucket right, Enter → that bucket's stories
    chart.send_keys(Keys.ARROW_RIGHT, Keys.ENTER)
    nxt = bucket + timedelta(seconds=every)
    wait(lambda: f"{nxt:%H:%M}–" in text_of(browser, "#point"), message="next point")
    wait(lambda: f"{nxt:%H:%M}–" in text_of(browser, "#stories-title"), message="next stories")

    # 6. the alert's evidence: the most negative stories and their words
    card = browser.find_element(By.CSS_SELECTOR, f'[data-alert-id="{alert["id"]}"]')
    card.find_element(By.TAG_NAME, "summary").click()
    wait(lambda: "accounting fraud" in card.find_element(By.CSS_SELECTOR, ".ev").text, 10, "ev")
    assert "fraud" in card.find_element(By.CSS_SELECTOR, ".ev").text

    # 7. acknowledge: the button changes and the API says who acknowledged it
    card.find_element(By.XPATH, ".//button[normalize-space()='Acknowledge']").click()
    wait(lambda: api(server, f"/api/alerts/{alert['id']}")["acked_at"], message="acked in API")
    assert api(server, f"/api/alerts/{alert['id']}")["acked_by"] == OPERATOR
    wait(
        lambda: browser.find_element(
            By.CSS_SELECTOR, f'[data-alert-id="{alert["id"]}"] .acked'
        ).text.startswith(f"acked by {OPERATOR}"),
        message="acked on the page",
    )

    # 8. silence the key for two hours, from the card
    card = browser.find_element(By.CSS_SELECTOR, f'[data-alert-id="{alert["id"]}"]')
    card.find_element(By.XPATH, ".//button[normalize-space()='Silence']").click()
    [silence] = wait(lambda: api(server, "/api/silences")["silences"], message="silence")
    assert silence["matchers"] == {"series_key": SPIKE_KEY} and silence["created_by"] == OPERATOR
    wait(lambda: f"series_key={SPIKE_KEY}" in text_of(browser, "#silences"), message="listed")

    # 9. back to the spike with the keyboard: its stories again
    chart.send_keys(Keys.ARROW_LEFT, Keys.ENTER)
    wait(lambda: f"{bucket:%H:%M}–" in text_of(browser, "#stories-title"), message="back")
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, '#stories tr[data-id="acme-0"]'))

    # 10. no script errors, and a screenshot that is a picture, not a blank page
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not [e for e in severe if "401" not in e["message"]], severe
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    img = Image.open(shot).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200, len(colours)
    assert max(c for c, _ in colours) < 0.9 * img.size[0] * img.size[1]  # not one flat colour
    assert any(
        abs(r - 214) < 10 and abs(g - 69) < 10 and abs(b - 69) < 10 for _, (r, g, b) in colours
    )
    if os.environ.get("FINSENTRY_DASHBOARD_SCREENSHOT"):  # the README's picture
        shutil.copy(shot, os.environ["FINSENTRY_DASHBOARD_SCREENSHOT"])
