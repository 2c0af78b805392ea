"""Screenshot of the dashboard for the README (docs/img/dashboard.png).

Run it against a dashboard that has data, e.g. after ``make demo`` left ``finsentry-data/demo.db``:

    FINSENTRY_STORE__URL=sqlite:///finsentry-data/demo.db .venv/bin/finsentry serve --port 8686 &
    .venv/bin/python scripts/dashboard_screenshot.py http://127.0.0.1:8686 docs/img/dashboard.png

It drives Debian's headless Chromium (as the browser test does): picks the key, clicks the
busiest negative bucket, opens the evidence of that key's alert, and saves the page.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

import httpx
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By


def main(url: str, out: str, key: str = "entity:ACME") -> int:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1440,900")
    driver = webdriver.Chrome(
        service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options
    )
    try:
        driver.get(url.rstrip("/") + "/?key=" + key)
        time.sleep(3)
        chart = driver.find_element(By.ID, "chart")
        over = chart.find_element(By.CSS_SELECTOR, ".u-over")
        # the bucket with the most negative articles: where the story broke
        x_min = float(chart.get_attribute("data-x-min") or 0)
        x_max = float(chart.get_attribute("data-x-max") or 1)
        pts = httpx.get(f"{url}/api/series", params={"key": key, "since": "24h", "every": "15min"})
        points = pts.json()["points"]
        best = max(points, key=lambda p: p["n_neg"])
        t = datetime.fromisoformat(best["t"]).timestamp() + 450
        dx = round(((t - x_min) / (x_max - x_min) - 0.5) * over.size["width"])
        ActionChains(driver).move_to_element_with_offset(over, dx, 0).click().perform()
        time.sleep(1.5)
        for _ in range(5):  # the list is rebuilt when an alert changes: find it again
            try:
                cards = driver.find_elements(By.CSS_SELECTOR, "#alerts .alert")
                mine = [c for c in cards if c.find_element(By.CSS_SELECTOR, ".key").text == key]
                (mine or cards)[0].find_element(By.TAG_NAME, "summary").click()
                break
            except WebDriverException:
                time.sleep(0.5)
        time.sleep(1.5)
        driver.execute_script("document.activeElement && document.activeElement.blur()")
        driver.save_screenshot(out)
    finally:
        driver.quit()
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
