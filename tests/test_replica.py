"""Reads from a real PostgreSQL streaming replica (pg_basebackup of the test's own primary, a hot
standby): reads go to it, a client that just wrote reads its write from the primary, and a
replica that lags or is down is passed over without an error; /readyz says which."""

import shutil
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from app import create_app
from devtools.embedded_postgres import EmbeddedPostgres
from tests.conftest import settings_for

WRITER, READER = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "198.51.100.8"}


def execute(url: str, sql: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall() if cursor.description else None
    conn.close()
    return rows


@pytest.fixture
def replica(own_postgres):
    folder = Path(tempfile.mkdtemp(prefix="comments-replica-"))
    standby = EmbeddedPostgres(folder / "data")
    standby.clone_from(own_postgres.url)
    standby.start()
    yield standby
    standby.stop("immediate")
    shutil.rmtree(folder, ignore_errors=True)


def client_for(primary, standby, max_lag: str):
    app = create_app(settings_for(primary.url, DATABASE_REPLICA_URL=standby.url, REPLICA_MAX_LAG_SECONDS=max_lag))
    return app.test_client()


def caught_up(primary, standby) -> None:
    """Until the standby has replayed everything the primary has written."""
    (position,) = execute(primary.url, "SELECT pg_current_wal_lsn()::text")[0]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if execute(standby.url, f"SELECT pg_last_wal_replay_lsn() >= '{position}'::pg_lsn")[0][0]:
            return
        time.sleep(0.05)
    raise AssertionError("the standby did not catch up")


def wait_for_state(client, state: str, timeout: float = 10) -> dict:
    """Until /readyz reports the replica in `state` (it looks again at most every CHECK_EVERY)."""
    deadline = time.monotonic() + timeout
    while (replica := client.get("/readyz").get_json()["replica"])["state"] != state:
        assert time.monotonic() < deadline, f"the replica stayed {replica['state']}, never {state}"
        time.sleep(0.05)
    return replica


def words_seen(client, environ) -> list[str]:
    response = client.get("/comments?thread=r", environ_base=environ)
    assert response.status_code == 200
    return [comment["comment"] for comment in response.get_json()["comments"]]


def post(client, words: str):
    response = client.post("/comments", json={"thread": "r", "name": "W", "comment": words}, environ_base=WRITER)
    assert response.status_code == 201


def test_reads_go_to_the_replica_and_a_writer_reads_its_own_write(own_postgres, replica):
    client = client_for(own_postgres, replica, max_lag="60")
    post(client, "first")
    caught_up(own_postgres, replica)
    execute(replica.url, "SELECT pg_wal_replay_pause()")  # from now on the replica falls behind
    wait_for_state(client, "in use")
    post(client, "second")
    assert words_seen(client, READER) == ["first"]  # served by the replica, which is behind
    assert words_seen(client, WRITER) == ["first", "second"]  # the writer reads from the primary
    assert client.get("/readyz").get_json()["replica"]["state"] == "in use"
    execute(replica.url, "SELECT pg_wal_replay_resume()")
    caught_up(own_postgres, replica)
    assert words_seen(client, READER) == ["first", "second"]


def test_a_replica_that_lags_too_far_is_passed_over(own_postgres, replica):
    client = client_for(own_postgres, replica, max_lag="1")
    post(client, "before")
    caught_up(own_postgres, replica)
    execute(replica.url, "SELECT pg_wal_replay_pause()")
    post(client, "while paused")
    assert wait_for_state(client, "lagging")["lag_seconds"] > 1  # past the allowed lag
    assert words_seen(client, READER) == ["before", "while paused"]
    assert client.get("/readyz").status_code == 200


def test_a_replica_that_is_down_is_passed_over_and_used_again_when_back(own_postgres, replica):
    client = client_for(own_postgres, replica, max_lag="60")
    post(client, "one")
    caught_up(own_postgres, replica)
    replica.stop("immediate")
    assert words_seen(client, READER) == ["one"]  # from the primary, without an error
    wait_for_state(client, "down")
    assert client.get("/readyz").status_code == 200

    replica.start()
    caught_up(own_postgres, replica)
    execute(replica.url, "SELECT pg_wal_replay_pause()")
    wait_for_state(client, "in use")
    post(client, "two")
    assert words_seen(client, READER) == ["one"]  # the replica serves reads again


def test_a_voter_reads_their_vote_and_a_replica_s_tag_holds_until_it_replays(own_postgres, replica):
    """Votes meet replicas: the voter's next reads go to the primary (as a writer's do); a
    reader revalidating against a paused replica is told nothing changed, and is told of the
    vote once the replica has replayed it (each server's tag names what it holds)."""
    client = client_for(own_postgres, replica, max_lag="60")
    post(client, "vote on me")
    caught_up(own_postgres, replica)
    execute(replica.url, "SELECT pg_wal_replay_pause()")
    wait_for_state(client, "in use")
    page = client.get("/comments?thread=r", environ_base=READER)
    (comment_id,) = [comment["id"] for comment in page.get_json()["comments"]]
    voter = {"REMOTE_ADDR": "198.51.100.77"}
    voted = client.post(f"/comments/{comment_id}/vote", json={"value": 1}, environ_base=voter)
    assert voted.status_code == 200 and voted.get_json()["upvotes"] == 1
    assert client.get(f"/comments/{comment_id}", environ_base=voter).get_json()["upvotes"] == 1  # the primary
    assert client.get(f"/comments/{comment_id}", environ_base=READER).get_json()["upvotes"] == 0  # the replica
    tag = {"If-None-Match": page.headers["ETag"]}
    assert client.get("/comments?thread=r", headers=tag, environ_base=READER).status_code == 304
    execute(replica.url, "SELECT pg_wal_replay_resume()")
    caught_up(own_postgres, replica)
    again = client.get("/comments?thread=r", headers=tag, environ_base=READER)
    assert again.status_code == 200 and again.get_json()["comments"][0]["upvotes"] == 1
