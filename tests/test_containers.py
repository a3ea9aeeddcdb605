"""The real containers: the image that ships and the compose stack, on a real Docker engine.

Needs a running engine (`../shared/offline-docker/setup.sh .` starts one where no image registry
is reachable). Without one these tests skip with that reason, except under CI=true, where a
missing engine is a failure: CI must never pass without having run them.
"""

import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from devtools.embedded_postgres import free_port
from tests import browser, pictures
from tests.conftest import wait_until
from tests.service import ROOT
from tests.slowloris import Trickler

pytestmark = pytest.mark.docker


def engine_running() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.fixture(scope="module", autouse=True)
def require_engine():
    if not engine_running():
        if os.environ.get("CI"):
            pytest.fail("CI=true but no Docker engine is running: container tests must run in CI")
        pytest.skip("no Docker engine running (start one with ../shared/offline-docker/setup.sh .)")


class Stack:
    """One compose project with a unique name and host port, torn down with its volumes."""

    def __init__(self, *files: str, **env: str):
        self.files = [arg for name in files for arg in ("-f", name)]  # none: docker-compose.yml
        self.project = f"comments-test-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.media_port = free_port()
        self.env = env  # settings for the stack's services, as a .env would give them

    def compose(
        self, *args: str, timeout: float = 600, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        env = {**os.environ, "PORT": str(self.port), "MEDIA_PORT": str(self.media_port), **self.env}
        command = ["docker", "compose", *self.files, "-p", self.project, *args]
        result = subprocess.run(
            command, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, *args: str) -> float:
        """`up -d --wait`: returns the seconds until every service was healthy."""
        started = time.monotonic()
        self.compose("up", "-d", "--build", "--wait", "--wait-timeout", "180", *args)
        return time.monotonic() - started

    def container(self, service: str) -> str:
        return self.compose("ps", "-a", "-q", service).stdout.strip()

    def state(self, service: str, field: str) -> str:
        """A field of the service container's `docker inspect` State, e.g. "Health.Status"."""
        command = ["docker", "inspect", "--format", f"{{{{.State.{field}}}}}", self.container(service)]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"api never became ready:\n{self.compose('logs', check=False).stdout[-3000:]}")


@pytest.fixture(scope="module")
def stack():
    stack = Stack()
    try:
        stack.up_seconds = stack.up()
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans", check=False)


@pytest.fixture(scope="module")
def posted(stack):
    """One comment posted with JSON and one with curl -d, through the published port."""
    by_json = requests.post(
        f"{stack.base}/comments", json={"name": "Ann", "comment": "from json", "thread": "docker"}, timeout=10
    )
    assert by_json.status_code == 201, by_json.text
    by_curl = subprocess.run(
        ["curl", "-sS", "-d", "name=Bob", "-d", "comment=from curl", "-d", "thread=docker", f"{stack.base}/comments"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [by_json.json(), json.loads(by_curl.stdout)]


def read_thread(stack) -> list[dict]:
    response = requests.get(f"{stack.base}/comments", params={"thread": "docker"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["comments"]


def test_stack_comes_up_healthy_and_answers(stack, posted):
    assert [c["comment"] for c in read_thread(stack)] == ["from json", "from curl"]
    assert requests.get(f"{stack.base}/readyz", timeout=10).status_code == 200


def test_api_and_proxy_healthchecks_report_healthy(stack):
    assert stack.state("api", "Health.Status") == "healthy"
    assert stack.state("nginx", "Health.Status") == "healthy"


def timed_get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=5)
    return response.status_code, time.monotonic() - started


def test_twenty_slow_clients_do_not_slow_anyone_else(stack, posted):
    """Slowloris against the stack: nginx holds the trickling sockets, the API never sees them."""
    with Trickler("127.0.0.1", stack.port, sockets=20, every=1.0, seconds=20) as slow:
        time.sleep(3)  # every socket has sent a few header lines by now
        answers = [timed_get(f"{stack.base}{path}") for path in ("/healthz", "/comments?thread=docker") * 3]
        assert slow.opened == 20 and not slow.closed_after, "the slow sockets should still be open"
    print(f"\nwith 20 slowloris sockets: {[round(seconds, 3) for _, seconds in answers]} s")
    assert all(status == 200 for status, _ in answers)
    assert all(seconds < 1.0 for _, seconds in answers)


def test_the_api_sees_the_client_address_not_a_forged_one(stack):
    forged = {"X-Forwarded-For": "203.0.113.66", "X-Request-ID": "forwarded-check"}
    assert requests.get(f"{stack.base}/healthz", headers=forged, timeout=10).status_code == 200
    time.sleep(0.5)
    logs = stack.compose("logs", "api").stdout
    (line,) = [json.loads(row.split("|", 1)[1]) for row in logs.splitlines() if "forwarded-check" in row]
    assert line["remote_addr"] not in ("203.0.113.66", "", None)
    assert line["remote_addr"] != "127.0.0.1"  # nginx's view of the client, not nginx itself


def test_the_proxy_refuses_bodies_over_the_limit_in_json(stack):
    response = requests.patch(
        f"{stack.base}/comments/1", data=b"x" * 200_000, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    # Posts may carry four images: their limit is MAX_BODY_BYTES + 4 x MAX_IMAGE_BYTES.
    too_big = requests.post(
        f"{stack.base}/comments",
        data=b"x" * (131072 + 4 * 5242880 + 1),
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    assert too_big.status_code == 413 and too_big.json()["code"] == "body_too_large"


def test_an_image_posted_through_nginx_downloads_from_its_signed_url_with_curl(stack, tmp_path):
    photo = pictures.large_photo((900, 700))  # larger than MAX_BODY_BYTES: the upload limit applies
    assert len(photo) > 131072
    posted = requests.post(
        f"{stack.base}/comments",
        data={"name": "Ann", "comment": "a photo", "thread": "docker-media"},
        files={"image": ("photo.jpg", photo)},
        timeout=30,
    )
    assert posted.status_code == 201, posted.text
    (image,) = posted.json()["images"]
    key = image["url"].rsplit("/", 1)[1]
    redirect = requests.get(f"{stack.base}/media/{key}", allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    signed = redirect.headers["Location"]
    assert signed.startswith(f"http://localhost:{stack.media_port}/"), signed
    target = tmp_path / "downloaded"
    curl = ["curl", "-sS", "-D", "-", "-o", str(target), signed]
    headers = subprocess.run(curl, capture_output=True, text=True, check=True, timeout=30).stdout.lower()
    assert headers.startswith("http/1.1 200"), headers
    assert "content-type: image/jpeg" in headers and "x-content-type-options: nosniff" in headers
    assert target.stat().st_size == image["bytes"]
    tampered = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", signed.replace("Signature=", "Signature=0")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert tampered.stdout == "403"
    # Browsers may only read through the media port: no writes, signed or not.
    put = requests.put(f"http://127.0.0.1:{stack.media_port}/comments-media/{key}", data=b"x", timeout=10)
    assert put.status_code == 403


def test_the_image_serves_the_built_widget_and_it_works_in_a_browser(stack):
    """The node stage's bundle, through nginx: small, briefly cached, and working in Chromium."""
    script = requests.get(f"{stack.base}/embed.js", timeout=10)
    assert script.status_code == 200
    assert script.headers["Cache-Control"] == "public, max-age=300"  # the bundle, not the source
    assert len(gzip.compress(script.content, 9)) < 15 * 1024
    assert requests.get(f"{stack.base}/widget/main.js", timeout=10).status_code == 404  # no source shipped
    chrome = browser.start_chrome()
    try:
        chrome.get(f"{stack.base}/demo?thread=docker-widget")
        host = chrome.find_element(By.ID, "comments")
        WebDriverWait(chrome, 20).until(lambda _: host.get_attribute("data-state") == "ready")
        form = chrome.find_element(By.CSS_SELECTOR, ".cw > .cw-form")
        form.find_element(By.NAME, "name").send_keys("Ann")
        form.find_element(By.NAME, "comment").send_keys("Posted through nginx")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(chrome, 20).until(lambda _: chrome.find_elements(By.CSS_SELECTOR, ".cw-text"))
        assert browser.console_errors(chrome) == []
    finally:
        chrome.quit()
    stored = requests.get(f"{stack.base}/comments", params={"thread": "docker-widget"}, timeout=10).json()
    assert [c["comment"] for c in stored["comments"]] == ["Posted through nginx"]


def test_nginx_micro_caches_public_reads_for_a_second(stack):
    url = f"{stack.base}/comments?thread=micro-cache"
    first, second = requests.get(url, timeout=10), requests.get(url, timeout=10)
    assert (first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]) == ("MISS", "HIT")
    assert second.content == first.content
    revalidated = requests.get(url, headers={"If-None-Match": second.headers["ETag"]}, timeout=10)
    assert revalidated.status_code == 304  # answered by nginx from its copy
    with_token = requests.get(url, headers={"Authorization": "Bearer anything"}, timeout=10)
    assert with_token.headers["X-Cache-Status"] == "BYPASS"  # never served from, nor stored in, the cache
    assert requests.get(url, cookies={"session": "x"}, timeout=10).headers["X-Cache-Status"] == "BYPASS"
    created = requests.post(
        f"{stack.base}/comments", json={"name": "Ann", "comment": "fresh", "thread": "micro-cache"}, timeout=10
    )
    assert created.status_code == 201 and "X-Cache-Status" not in created.headers
    # The author sees it in the 201 (and with their token); every reader within the cache's second.
    mine = requests.get(url, headers={"Authorization": f"Bearer {created.json()['edit_token']}"}, timeout=10)
    assert [c["comment"] for c in mine.json()["comments"]] == ["fresh"]
    wait_until(lambda: [c["comment"] for c in requests.get(url, timeout=10).json()["comments"]] == ["fresh"], 3)
    counts = [requests.get(f"{stack.base}/counts?thread=micro-cache", timeout=10) for _ in range(2)]
    assert counts[1].headers["X-Cache-Status"] == "HIT" and counts[1].json() == counts[0].json()


def test_api_runs_as_a_non_root_user(stack):
    uid = stack.compose("exec", "-T", "api", "id", "-u").stdout.strip()
    assert uid == "10001"


def test_request_logs_reach_compose_logs(stack, posted):
    requests.get(f"{stack.base}/comments/{posted[0]['id']}", headers={"X-Request-ID": "compose-log-check"}, timeout=10)
    time.sleep(0.5)
    logs = stack.compose("logs", "api").stdout
    lines = [json.loads(line.split("|", 1)[1]) for line in logs.splitlines() if "compose-log-check" in line]
    assert lines and lines[0]["path"] == f"/comments/{posted[0]['id']}" and lines[0]["status"] == 200


def test_comments_survive_restarting_api_and_db(stack, posted):
    stack.compose("restart", "db")
    stack.compose("restart", "api")
    stack.wait_ready()
    assert [c["id"] for c in read_thread(stack)] == [c["id"] for c in posted]


def test_stopping_the_api_is_graceful_and_quick(stack):
    started = time.monotonic()
    stack.compose("stop", "api")
    seconds = time.monotonic() - started
    assert seconds < 10, f"stop took {seconds:.1f}s: gunicorn did not exit on SIGTERM"
    assert stack.state("api", "ExitCode") == "0", "gunicorn did not exit cleanly on SIGTERM"
    stack.compose("start", "api")
    stack.wait_ready()


def test_comments_survive_down_and_up_without_volumes(stack, posted):
    stack.compose("down")
    stack.up()
    stack.wait_ready()
    assert [c["id"] for c in read_thread(stack)] == [c["id"] for c in posted]


def test_an_export_is_imported_through_compose_from_standard_input(stack):
    """The form docs/import-export.md gives: the file on standard input of a one-off container."""
    export = (ROOT / "tests" / "imports" / "disqus.xml").read_text()
    command = ("run", "--rm", "-T", "api", "python", "-m", "transfer.importer", "-")
    assert "imported 8 comments" in stack.compose(*command, stdin=export).stdout
    assert "imported 0 comments" in stack.compose(*command, stdin=export).stdout  # and never twice
    thread = requests.get(f"{stack.base}/comments", params={"thread": "/2014/test/"}, timeout=10).json()
    assert [comment["name"] for comment in thread["comments"]] == ["Ann", None, "Bob", "Dee", "Fay"]


def test_a_moderator_added_through_compose_opens_the_admin_api_and_the_app_is_served(stack):
    """The one-off command as operations.md gives it, and the app's files from the image."""
    added = stack.compose("run", "--rm", "-T", "api", "python", "-m", "api.moderators", "add", "alice")
    name, secret = added.stdout.strip().split(": ")
    assert name == "alice" and secret.startswith("mod_")
    listing = requests.get(f"{stack.base}/admin/comments", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert listing.status_code == 200
    page = requests.get(f"{stack.base}/admin", timeout=10)
    assert page.status_code == 200 and 'name="secret"' in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    script = requests.get(f"{stack.base}/admin/app.js", timeout=10)
    assert script.status_code == 200 and "UNDO_SECONDS" in script.text


def test_migrations_ran_once_as_a_one_off_step(stack):
    state = stack.compose("ps", "-a", "--format", "json", "migrate").stdout
    migrate = [json.loads(line) for line in state.splitlines() if line.strip()]
    assert migrate and migrate[0]["State"] == "exited" and migrate[0]["ExitCode"] == 0


# Run inside the image: import every top-level module and every module of every package there.
IMPORT_EVERYTHING = """
import importlib, json, pkgutil
from pathlib import Path
names = [path.stem for path in Path(".").glob("*.py") if path.stem != "gunicorn.conf"]
for init in sorted(Path(".").glob("*/__init__.py")):
    package = init.parent.name
    names += [f"{package}.{module.name}" for module in pkgutil.iter_modules([str(init.parent)])]
for name in names:
    importlib.import_module(name)
print(json.dumps(sorted(names)))
"""


@pytest.fixture(scope="module")
def probe_image():
    """The image that ships (target runtime), built from the project as it is plus two things a
    developer might add: a .env beside it (which must not ship) and a new module inside a package
    (which must)."""
    probe_module = f"probe_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as context:
        listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        tracked = subprocess.run(listing, cwd=ROOT, capture_output=True, check=True).stdout
        for name in filter(None, tracked.decode().split("\0")):
            target = os.path.join(context, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.exists(ROOT / name):
                shutil.copy2(ROOT / name, target)
        with open(os.path.join(context, ".env"), "w") as env_file:
            env_file.write("SECRET_MARKER=do-not-ship\n")
        with open(os.path.join(context, "store", f"{probe_module}.py"), "w") as module:
            module.write('"""A module added after the Dockerfile was written."""\n')
        tag = f"comments-api:probe-{uuid.uuid4().hex[:8]}"
        build = subprocess.run(
            ["docker", "build", "-q", "--target", "runtime", "-t", tag, context],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert build.returncode == 0, build.stderr
    try:
        yield tag, f"store.{probe_module}"
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_env_file_never_reaches_the_image(probe_image):
    tag, _ = probe_image
    found = subprocess.run(
        ["docker", "run", "--rm", tag, "sh", "-c", "ls -a /app; grep -rl do-not-ship /app /venv || true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".env" not in found.split() and "do-not-ship" not in found


def test_every_module_in_the_image_imports_and_a_new_one_arrives_by_itself(probe_image):
    tag, probe_module = probe_image
    run = subprocess.run(
        ["docker", "run", "--rm", tag, "python", "-c", IMPORT_EVERYTHING], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    in_image = set(json.loads(run.stdout))
    in_repo = {path.stem for path in ROOT.glob("*.py")} - {"gunicorn.conf"}
    for init in ROOT.glob("*/__init__.py"):
        if init.parent.name not in ("devtools", "tests", "bench"):
            in_repo |= {f"{init.parent.name}.{path.stem}" for path in init.parent.glob("*.py")} - {
                f"{init.parent.name}.__init__"
            }
    assert in_image == in_repo | {probe_module}
