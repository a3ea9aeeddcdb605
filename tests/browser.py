"""A real Chromium, driven by selenium, for the widget's tests.

Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs them). Without them the
browser tests skip with that reason, except under CI=true, where they must run.
"""

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def chrome_paths() -> tuple[str, str] | None:
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def require_chromium() -> tuple[str, str]:
    paths = chrome_paths()
    if paths is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but Chromium or its driver is missing: the browser tests must run in CI")
        pytest.skip("no Chromium and chromedriver (apt-get install chromium chromium-driver)")
    return paths


def start_chrome(width: int = 1000, height: int = 1200):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    browser, driver = require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=DriverService(driver))
    chrome.set_page_load_timeout(20)
    return chrome


def console_errors(chrome) -> list[dict]:
    """What the page logged as errors: CSP violations, uncaught exceptions, console.error.
    Not the network's own notes ("the server responded with a status of 429"): answering
    4xx and 5xx is the API's job, and the tests check what the widget made of them."""
    return [entry for entry in chrome.get_log("browser") if entry["level"] == "SEVERE" and entry["source"] != "network"]


def prefer_color_scheme(chrome, scheme: str) -> None:
    feature = {"name": "prefers-color-scheme", "value": scheme}
    chrome.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [feature]})
