"""Where two features meet on one request: idempotency with the limiter and the pool, replays
with images and the store, erasure with saved answers, edits with the limit, images with the
limit. Each test names the item of the seams issue (19) it holds to; all run against real
PostgreSQL and a real S3 store (SeaweedFS)."""

import io
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import psycopg2.errors
import pytest
import requests
from PIL import Image

import config
from app import create_app
from db import CommentDatabase
from store import rate_limits
from tests import pictures
from tests.conftest import TEST_ENVIRONMENT, query, s3_client, settings_for, stored_keys
from tests.service import Service

ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}


def make_client(database_url: str, **env: str):
    app = create_app(settings_for(database_url, **env))
    return app, app.test_client()


def keyed(key: str, **headers) -> dict:
    return {"Idempotency-Key": key, **headers}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post_images(client, *images: bytes, headers=None, **fields):
    data = {"name": "Ann", "comment": "Look", **fields}
    data["image"] = [(io.BytesIO(image), f"p{n}.png") for n, image in enumerate(images)]
    return client.post("/comments", data=data, content_type="multipart/form-data", headers=headers or {})


# --- 1. A keyed post that prunes the limiter does not wait on its own lock ----------------------


def test_1_a_keyed_post_that_prunes_expired_limits_commits(clean_database, monkeypatch):
    app, client = make_client(clean_database, RATE_LIMIT_POSTS="5/minute", DB_STATEMENT_TIMEOUT_MS="1000")
    assert client.post("/comments", json={"name": "A", "comment": "first"}).status_code == 201
    query(clean_database, "UPDATE post_limits SET tat = now() - interval '1 hour'")  # long expired: prunable
    monkeypatch.setattr(rate_limits, "should_prune", lambda: True)  # this request is the one that prunes
    response = client.post("/comments", json={"name": "A", "comment": "second"}, headers=keyed("k"))
    assert response.status_code == 201, response.get_json()
    assert query(clean_database, "SELECT count(*) FROM comments") == [(2,)]
    app.extensions["comments_db"].close()


# --- 2. One request, one connection --------------------------------------------------------------

ONE_CONNECTION = {
    "DB_POOL_SIZE": "1",
    "GUNICORN_THREADS": "1",
    "DB_POOL_TIMEOUT_MS": "200",
    "RATE_LIMIT_POSTS": "2/minute",
}


@pytest.fixture
def one_connection(clean_database):
    """A process with a single pool connection, and a replica configured (the primary itself,
    which is no standby and so never read from) so that writes are noted for read-your-writes."""
    app, client = make_client(clean_database, **ONE_CONNECTION, DATABASE_REPLICA_URL=clean_database)
    yield client
    app.extensions["comments_db"].close()


def test_2_keyed_writes_and_refusals_need_one_connection_each(one_connection):
    client = one_connection
    created = client.post("/comments", json={"name": "A", "comment": "one"}, headers=keyed("p1"))
    assert created.status_code == 201, created.get_json()
    token, location = created.get_json()["edit_token"], created.headers["Location"]
    edited = client.patch(location, json={"comment": "edited"}, headers=keyed("e1", **bearer(token)))
    assert edited.status_code == 200, edited.get_json()
    refused = client.post("/comments", json={"name": "A", "comment": "three"}, headers=keyed("p3"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1, refused.get_json()
    deleted = client.delete(location, headers=keyed("d1", **bearer(token)))
    assert deleted.status_code == 204, deleted.get_json()


def test_2_config_refuses_a_pool_smaller_than_the_threads():
    with pytest.raises(config.ConfigError, match="DB_POOL_SIZE=2 is smaller than GUNICORN_THREADS=4"):
        config.from_environment({"DB_POOL_SIZE": "2", "GUNICORN_THREADS": "4"})
    assert config.from_environment({"GUNICORN_THREADS": "8"}).db_pool_size == 8  # the default follows
    assert config.from_environment({"DB_POOL_SIZE": "4", "GUNICORN_THREADS": "4"}).db_pool_size == 4


def test_2_concurrent_keyed_writes_never_wait_for_the_pool(clean_database):
    env = {"GUNICORN_THREADS": "4", "DB_POOL_SIZE": "4", "WEB_CONCURRENCY": "1", "DB_POOL_TIMEOUT_MS": "50"}
    with Service(clean_database, DATABASE_REPLICA_URL=clean_database, **env) as service:

        def post(n: int) -> int:
            body = {"name": "N", "comment": f"keyed {n}"}
            return requests.post(service.url("/comments"), json=body, headers=keyed(f"k{n}"), timeout=10).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, range(80)))
    assert statuses == [201] * 80


# --- 3. A replay is answered before any work -----------------------------------------------------


def test_3_a_retry_of_an_image_post_is_answered_over_the_limit_and_with_the_store_down(
    clean_database, media_environment
):
    env = {**media_environment, "RATE_LIMIT_POSTS": "1/minute"}
    app, client = make_client(clean_database, **env)
    image = pictures.still("PNG", colour=(9, 9, 9))
    first = post_images(client, image, headers=keyed("img-1"))
    assert first.status_code == 201, first.get_json()
    assert client.post("/comments", json={"name": "A", "comment": "over"}).status_code == 429
    over_the_limit = post_images(client, image, headers=keyed("img-1"))
    assert over_the_limit.status_code == 201 and over_the_limit.get_json() == first.get_json()
    # The same service with its store gone (nothing listens on that port).
    down = {**env, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}
    app_down, client_down = make_client(clean_database, **down)
    store_down = post_images(client_down, image, headers=keyed("img-1"))
    assert store_down.status_code == 201 and store_down.headers["Idempotent-Replayed"] == "true"
    for each in (app, app_down):
        each.extensions["comments_db"].close()


def test_3_refused_image_posts_leave_no_object(clean_database, media_environment):
    app, client = make_client(clean_database, **media_environment)
    assert post_images(client, pictures.still("PNG", colour=(1, 2, 3)), thread="t").status_code == 201
    kept = stored_keys(media_environment)
    duplicate = post_images(client, pictures.still("PNG", colour=(4, 5, 6)), thread="t")
    assert duplicate.status_code == 409
    orphan_reply = post_images(
        client, pictures.still("PNG", colour=(7, 8, 9)), thread="t", parent_id="999", comment="reply"
    )
    assert orphan_reply.status_code == 400
    assert post_images(client, pictures.still("PNG", colour=(1, 1, 1)), headers=keyed("r")).status_code == 201
    kept = stored_keys(media_environment)
    reused = post_images(client, pictures.still("PNG", colour=(2, 2, 2)), headers=keyed("r"))
    assert reused.status_code == 422
    assert stored_keys(media_environment) == kept and len(kept) == 2
    assert query(clean_database, "SELECT count(*) FROM media") == [(2,)]
    app.extensions["comments_db"].close()


# --- 4. No readable secret at rest; erased words never come back through a retry -----------------


def test_4_the_saved_answer_keeps_the_edit_token_only_sealed(client, clean_database):
    first = client.post("/comments", json={"name": "A", "comment": "secret keeper"}, headers=keyed("s"))
    token = first.get_json()["edit_token"]
    ((body, sealed),) = query(clean_database, "SELECT body, sealed_token FROM idempotency_keys")
    assert token.encode() not in bytes(body) and token.encode() not in bytes(sealed)
    again = client.post("/comments", json={"name": "A", "comment": "secret keeper"}, headers=keyed("s"))
    assert again.get_data() == first.get_data()  # byte for byte, the token back in its place


@pytest.mark.parametrize("eraser", ["author", "moderator"])
def test_4_a_retry_after_erasure_does_not_bring_the_words_back(client, clean_database, eraser):
    body = {"name": "Ann Words", "comment": "words to erase"}
    created = client.post("/comments", json=body, headers=keyed("p")).get_json()
    edit = {"comment": "edited words to erase"}
    location = f"/comments/{created['id']}"
    assert client.patch(location, json=edit, headers=keyed("e", **bearer(created["edit_token"]))).status_code == 200
    if eraser == "author":
        assert client.delete(location, headers=bearer(created["edit_token"])).status_code == 204
    else:
        assert client.delete(f"/admin{location}", headers=ADMIN).status_code == 204
    post_again = client.post("/comments", json=body, headers=keyed("p"))
    edit_again = client.patch(location, json=edit, headers=keyed("e", **bearer(created["edit_token"])))
    for replay in (post_again, edit_again):
        assert replay.headers["Idempotent-Replayed"] == "true"
        shown = replay.get_json()
        assert shown["id"] == created["id"] and shown["status"] == "deleted"
        assert shown["name"] is None and shown["comment"] is None and "edit_token" not in shown
    saved = b"".join(bytes(body) for (body,) in query(clean_database, "SELECT body FROM idempotency_keys"))
    assert b"words to erase" not in saved and b"Ann Words" not in saved


# --- 5. Edits cost like posts, and are bounded -----------------------------------------------------


def test_5_edits_count_against_the_posting_limit(clean_database):
    app, client = make_client(clean_database, RATE_LIMIT_POSTS="3/minute")
    created = client.post("/comments", json={"name": "A", "comment": "v0"}).get_json()
    statuses = [
        client.patch(f"/comments/{created['id']}", json={"comment": f"v{n}"}, headers=bearer(created["edit_token"]))
        for n in range(1, 4)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[-1].get_json()["code"] == "rate_limited" and "Retry-After" in statuses[-1].headers
    assert client.post("/comments", json={"name": "A", "comment": "new"}).status_code == 429  # one budget
    app.extensions["comments_db"].close()


def test_5_a_keyed_edit_is_replayed_even_after_the_limit_is_reached(clean_database):
    app, client = make_client(clean_database, RATE_LIMIT_POSTS="2/minute")
    created = client.post("/comments", json={"name": "A", "comment": "v0"}).get_json()
    path, auth = f"/comments/{created['id']}", bearer(created["edit_token"])
    first = client.patch(path, json={"comment": "v1"}, headers=keyed("edit-1", **auth))
    assert first.status_code == 200
    assert client.patch(path, json={"comment": "v2"}, headers=auth).status_code == 429  # the budget is spent
    again = client.patch(path, json={"comment": "v1"}, headers=keyed("edit-1", **auth))
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    app.extensions["comments_db"].close()


def test_5_a_comment_takes_a_bounded_number_of_edits(client):
    from comment import MAX_EDITS

    created = client.post("/comments", json={"name": "A", "comment": "v0"}).get_json()
    path, auth = f"/comments/{created['id']}", bearer(created["edit_token"])
    for n in range(MAX_EDITS):
        assert client.patch(path, json={"comment": f"v{n + 1}"}, headers=auth).status_code == 200
    refused = client.patch(path, json={"comment": "one too many"}, headers=auth)
    assert refused.status_code == 403 and refused.get_json()["code"] == "edit_limit_reached"
    assert client.get(path).get_json()["comment"] == f"v{MAX_EDITS}"


# --- 6. Bounded work per image; 7. refused images cost quota ---------------------------------------


def test_6_an_animation_of_countless_tiny_frames_is_refused_before_decoding(media_client, media_environment):
    response = post_images(media_client, pictures.gif_of_tiny_frames(5000))
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_image"
    assert "more than 100 frames" in response.get_json()["error"]
    assert stored_keys(media_environment) == set()
    assert post_images(media_client, pictures.animated_gif(5)).status_code == 201  # a real animation


def test_6_what_is_stored_is_never_larger_than_max_image_bytes(clean_database, media_environment):
    # A noisy picture sent at JPEG quality 1 is small (46 KB); re-encoded at quality 85 it is not (120 KB).
    small_upload = pictures.encode(Image.effect_noise((600, 600), 80).convert("RGB"), "JPEG", quality=1)
    limit = 64 * 1024
    assert len(small_upload) < limit
    app, client = make_client(clean_database, **media_environment, MAX_IMAGE_BYTES=str(limit))
    response = post_images(client, small_upload)
    assert response.status_code == 400 and "re-encoded" in response.get_json()["error"]
    assert stored_keys(media_environment) == set()
    app.extensions["comments_db"].close()


def test_7_images_refused_still_cost_their_sender_quota(clean_database, media_environment):
    app, client = make_client(clean_database, **media_environment, RATE_LIMIT_POSTS="2/minute")
    for _ in range(2):
        assert post_images(client, pictures.HOSTILE["SVG"]()).status_code == 400
    refused = post_images(client, pictures.still("PNG"))
    assert refused.status_code == 429
    assert client.post("/comments", json={"name": "A", "comment": "text"}).status_code == 429
    app.extensions["comments_db"].close()


# --- 8. Nothing hidden in a kept profile -------------------------------------------------------------


def stored_image(media_environment: dict) -> Image.Image:
    (key,) = stored_keys(media_environment)
    data = s3_client(media_environment).get_object(Bucket=media_environment["MEDIA_BUCKET"], Key=key)["Body"].read()
    return Image.open(io.BytesIO(data))


def test_8_a_large_colour_profile_is_not_kept(media_client, media_environment):
    upload = pictures.photo_with_big_profile(1024 * 1024)
    assert post_images(media_client, upload).status_code == 201
    kept = stored_image(media_environment).info.get("icc_profile") or b""
    assert len(kept) <= 8 * 1024


def test_8_a_small_colour_profile_is_kept(media_client, media_environment):
    assert post_images(media_client, pictures.photo_with_profile(pictures.srgb_profile())).status_code == 201
    kept = stored_image(media_environment).info.get("icc_profile")
    assert kept and len(kept) <= 8 * 1024


# --- 9. One link rule (the browser half is in test_widget_browser.py) --------------------------------


@pytest.mark.parametrize("before", ["é", "\u3164", "x", "_", "1"])
def test_9_links_glued_to_letters_are_still_counted(client, before):
    text = " ".join(f"{before}https://spam{n}.example" for n in range(8))
    created = client.post("/comments", json={"name": "A", "comment": text}).get_json()
    assert created["status"] == "pending"  # MAX_LINKS is 3


# --- 10. One client, one identity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, second",
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:abcd::9"),  # one IPv6 /64
        ("198.51.100.7", "::ffff:198.51.100.7"),  # one address, two spellings
    ],
)
def test_10_one_client_however_its_address_is_written(clean_database, first, second):
    app, client = make_client(clean_database, RATE_LIMIT_POSTS="1/minute")
    assert (
        client.post("/comments", json={"name": "A", "comment": "one"}, environ_base={"REMOTE_ADDR": first}).status_code
        == 201
    )
    again = client.post("/comments", json={"name": "A", "comment": "two"}, environ_base={"REMOTE_ADDR": second})
    assert again.status_code == 429
    other = client.post(
        "/comments", json={"name": "A", "comment": "3"}, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}
    )
    assert other.status_code == 201  # the next /64 is someone else
    app.extensions["comments_db"].close()


def test_10_a_forwarded_value_that_is_no_address_is_refused(clean_database):
    app, client = make_client(clean_database, TRUSTED_PROXIES="1")
    forged = client.post("/comments", json={"name": "A", "comment": "x"}, headers={"X-Forwarded-For": "not-an-ip"})
    assert forged.status_code == 400 and forged.get_json()["code"] == "invalid_client_address"
    fine = client.post("/comments", json={"name": "A", "comment": "x"}, headers={"X-Forwarded-For": "2001:db8::5"})
    assert fine.status_code == 201
    app.extensions["comments_db"].close()


# --- 11. Hidden stays hidden, also through a v1 cursor --------------------------------------------------


def test_11_a_v1_cursor_naming_a_hidden_comment_is_like_one_naming_nothing(client, clean_database):
    import base64

    def v1(comment_id: int) -> str:
        return base64.urlsafe_b64encode(f"v1:{comment_id}".encode()).decode().rstrip("=")

    client.post("/comments", json={"name": "A", "comment": "public"})
    hidden = client.post("/comments", json={"name": "A", "comment": "held", "website": "bot"}).get_json()
    pending = client.post("/comments", json={"name": "A", "comment": "h https://a https://b https://c https://d"})
    for comment_id in (hidden["id"], pending.get_json()["id"], 999):
        response = client.get(f"/comments?cursor={v1(comment_id)}")
        assert response.status_code == 400 and response.get_json()["fields"] == {"cursor": "points at no comment"}


# --- 18. Small ones ------------------------------------------------------------------------------------


class FailingRollback(psycopg2.extensions.connection):
    """A connection whose next rollback fails and leaves the transaction open: what an exception
    arriving in the middle of a rollback does (the gthread deadline, a signal)."""

    fail_next_rollback = False

    def rollback(self):
        if FailingRollback.fail_next_rollback:
            FailingRollback.fail_next_rollback = False
            raise psycopg2.OperationalError("rollback interrupted")
        return super().rollback()


def test_18_a_failed_rollback_does_not_lose_a_pool_slot(clean_database):
    db = CommentDatabase(clean_database, pool_size=1, connect_timeout=3, statement_timeout_ms=2000, pool_timeout=0.3)
    db._connect_kwargs["connection_factory"] = FailingRollback
    FailingRollback.fail_next_rollback = True
    with pytest.raises(psycopg2.errors.DivisionByZero), db.transaction() as cursor:
        cursor.execute("SELECT 1 / 0")
    with db.transaction() as cursor:  # the one slot is free again
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
    db.close()


def test_18_an_erasure_is_not_answered_503_when_only_the_image_clean_up_failed(clean_database, media_environment):
    app, client = make_client(clean_database, **media_environment, DB_STATEMENT_TIMEOUT_MS="300")
    created = post_images(client, pictures.still("PNG", colour=(3, 1, 4))).get_json()
    blocker = psycopg2.connect(clean_database)
    try:
        blocker.cursor().execute("LOCK TABLE media IN ACCESS EXCLUSIVE MODE")  # the clean-up must wait
        erased = client.delete(f"/comments/{created['id']}", headers=bearer(created["edit_token"]))
    finally:
        blocker.rollback()
        blocker.close()
    assert erased.status_code == 204
    assert client.get(f"/comments/{created['id']}").status_code == 404
    app.extensions["comments_db"].close()


def test_18_without_public_url_links_use_the_port_listened_on():
    assert config.from_environment({"PORT": "8123"}).public_url == "http://localhost:8123"
    assert config.from_environment({"PORT": "8123", "PUBLIC_URL": "https://c.example/"}).public_url == (
        "https://c.example"
    )


def test_18_admin_events_show_no_credentials_in_destinations(client, clean_database):
    created = client.post("/comments", json={"name": "A", "comment": "x"}).get_json()
    query(
        clean_database,
        "INSERT INTO deliveries (event, comment_id, destination, state) SELECT id, comment_id, %s, 'failed'"
        " FROM outbox LIMIT 1",
        ("https://user:hunter2@hooks.example:8443/in/abc?token=s3cret",),
    )
    (event,) = client.get("/admin/events?state=failed", headers=ADMIN).get_json()["events"]
    assert event["destination"] == "https://hooks.example:8443" and event["comment_id"] == created["id"]
