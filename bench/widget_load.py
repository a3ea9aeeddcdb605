"""The widget's weight and speed: the bundle's gzipped size, and the time from navigation to
the first comments drawn on the demo page, read from Chromium's performance timeline (the
widget marks "comments-rendered" when its first page is on screen).

Used by `pipenv run bench`; needs npm (to build the bundle, as the image does) and Chromium.
"""

import gzip
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from tests import browser
from tests.service import Service

ROOT = Path(__file__).resolve().parent.parent
WIDGET = ROOT / "widget"
LOADS = 10
RENDERED = "return performance.getEntriesByName('comments-rendered')[0]?.startTime ?? null"


def build_bundle() -> bool:
    """Builds widget/dist as the Docker image does; False when it was there already."""
    if (WIDGET / "dist" / "embed.js").is_file():
        return False
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WIDGET, check=True, capture_output=True)
    subprocess.run(["npm", "run", "build"], cwd=WIDGET, check=True, capture_output=True)
    return True


def gzipped_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), 9)) / 1024


def first_render_ms(service: Service, thread: str) -> tuple[float, float]:
    """Milliseconds to the first comments drawn: the first load (nothing cached) and the median
    of the loads after it (the browser's cache as a returning reader has it)."""
    chrome = browser.start_chrome()
    try:
        chrome.get(service.url("/healthz"))  # the browser's own start is not the widget's time
        chrome.execute_cdp_cmd("Network.clearBrowserCache", {})
        times = []
        for _ in range(LOADS):
            chrome.get(service.url(f"/demo?thread={thread}"))
            for _ in range(200):
                if (took := chrome.execute_script(RENDERED)) is not None:
                    break
                time.sleep(0.02)
            assert took is not None, "the widget never drew its comments"
            times.append(took)
        return times[0], statistics.median(times[1:])
    finally:
        chrome.quit()


def widget_report(database_url: str, thread: str) -> str:
    if shutil.which("npm") is None or browser.chrome_paths() is None:
        return "Widget: not measured (needs npm and Chromium)."
    built_here = build_bundle()
    try:
        script, style = gzipped_kb(WIDGET / "dist" / "embed.js"), gzipped_kb(WIDGET / "dist" / "embed.css")
        with Service(database_url) as service:  # serves the bundle: widget/dist exists
            cold, warm = first_render_ms(service, thread)
    finally:
        if built_here:
            shutil.rmtree(WIDGET / "dist")
    return (
        f"Widget: the bundle is **{script:.1f} KB gzipped** (embed.js; its stylesheet {style:.1f} KB; "
        f"target under 15 KB). First comments drawn on the demo page (50 of them, Chromium headless, "
        f"from navigation start): **{cold:.0f} ms** on a first visit, **{warm:.0f} ms** median over "
        f"{LOADS - 1} visits after it."
    )
