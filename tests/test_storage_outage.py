"""The object store frozen and then stopped under a real gunicorn: posts with images answer 503
within 5 s, and everything else (text posts, listings, health) keeps working."""

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest
import requests

import config
from store import migrate
from tests import pictures
from tests.conftest import running_seaweedfs
from tests.service import Service

LIMIT = 5.0  # seconds: the most a post with images may take while the store is away


@pytest.fixture
def service_with_own_store(clean_database):
    with running_seaweedfs() as store:
        environment = {**store.environment, "MEDIA_BUCKET": "outage"}
        migrate.prepare_bucket(config.from_environment({"DATABASE_URL": clean_database, **environment}))
        service = Service(clean_database, **environment).start()
        try:
            yield service, store
        finally:
            service.stop()


def post_image(service: Service, image: bytes) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.post(
        f"{service.base}/comments",
        data={"name": "Ann", "comment": f"picture {time.monotonic()}"},
        files={"image": ("picture.png", image)},
        timeout=30,
    )
    return response, time.monotonic() - started


def assert_text_still_works(service: Service) -> None:
    started = time.monotonic()
    created = requests.post(f"{service.base}/comments", json={"name": "B", "comment": f"text {started}"}, timeout=5)
    assert created.status_code == 201
    assert requests.get(f"{service.base}/comments", timeout=5).status_code == 200
    assert requests.get(f"{service.base}/healthz", timeout=5).status_code == 200
    assert time.monotonic() - started < 1.0


def test_a_frozen_then_stopped_store_fails_image_posts_fast_and_nothing_else(service_with_own_store):
    service, store = service_with_own_store
    assert post_image(service, pictures.still("PNG", colour=(1, 1, 1)))[0].status_code == 201

    store.pause()  # connections are accepted by the kernel and never answered
    try:
        response, took = post_image(service, pictures.still("PNG", colour=(2, 2, 2)))
        assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
        assert "Retry-After" in response.headers
        assert took < LIMIT, took
        assert_text_still_works(service)
    finally:
        store.resume()
    assert post_image(service, pictures.still("PNG", colour=(3, 3, 3)))[0].status_code == 201

    store.stop()  # connections refused
    response, took = post_image(service, pictures.still("PNG", colour=(4, 4, 4)))
    assert response.status_code == 503 and took < LIMIT, took
    assert_text_still_works(service)
    service.assert_clean_logs()


def test_a_slow_store_holds_at_most_half_the_threads_and_reads_stay_fast(clean_database):
    """Four threads in one process: while the store hangs, two image posts wait on it, the
    others are answered 503 busy at once, and a read is served at once by a free thread."""
    with running_seaweedfs() as store:
        environment = {**store.environment, "MEDIA_BUCKET": "slow"}
        migrate.prepare_bucket(config.from_environment({"DATABASE_URL": clean_database, **environment}))
        env = {**environment, "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"}
        with Service(clean_database, **env) as service:
            store.pause()
            try:
                with ThreadPoolExecutor(3) as pool:
                    posts = [
                        pool.submit(post_image, service, pictures.still("PNG", colour=(n, 0, 0))) for n in range(3)
                    ]
                    done, _ = wait(posts, timeout=2, return_when=FIRST_COMPLETED)  # the third: turned away
                    busy = [future.result()[0] for future in done]
                    started = time.monotonic()
                    read = requests.get(f"{service.base}/comments", timeout=5)
                    read_took = time.monotonic() - started
                    answers = [future.result()[0] for future in posts]
            finally:
                store.resume()
    assert read.status_code == 200 and read_took < 1.0, read_took
    assert len(busy) == 1 and busy[0].status_code == 503 and busy[0].json()["code"] == "busy"
    assert busy[0].headers["Retry-After"] == "2"
    codes = sorted(response.json()["code"] for response in answers)
    assert codes == ["busy", "storage_unavailable", "storage_unavailable"]
