"""`pipenv run import`: every peer's format, run as the real command against real PostgreSQL, and
what an import must never do (duplicate, lose, reorder, wake the outbox, expand entities)."""

import gzip
import io
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from app import create_app
from devtools import sample_exports
from tests import pictures
from tests.conftest import (
    TEST_ENVIRONMENT,
    empty_bucket,
    query,
    s3_client,
    scratch_database,
    settings_for,
    stored_keys,
    wait_until,
)
from tests.service import ROOT
from web.auth import client_fingerprint

FIXTURES = Path(__file__).parent / "imports"
ADMIN = {"Authorization": f"Bearer {TEST_ENVIRONMENT['ADMIN_TOKEN']}"}


def run_import(
    database_url: str, *arguments: str, stdin: bytes | None = None, **environment: str
) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": database_url, **environment}
    command = [sys.executable, "-m", "transfer.importer", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, input=stdin, capture_output=True, timeout=120)


def imported(database_url: str, *arguments: str, stdin: bytes | None = None, **environment: str) -> dict:
    """Run an import that must succeed; its summary (the final JSON log line)."""
    result = run_import(database_url, *arguments, stdin=stdin, **environment)
    assert result.returncode == 0, result.stderr.decode()
    finished = [orjson.loads(line) for line in result.stderr.splitlines() if b'"import finished"' in line]
    return {**finished[-1], "text": result.stdout.decode()}


def rows(database_url: str, where: str = "true") -> dict[str, dict]:
    """Imported comments by source id, with their parent's source id."""
    found = query(
        database_url,
        "SELECT i.source_id, c.thread, p.source_id, c.name, c.comment, c.status, c.email, c.notify_replies,"
        " to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), c.client, c.edited_at IS NOT NULL"
        " FROM comments c JOIN imported_comments i ON i.comment_id = c.id"
        f" LEFT JOIN imported_comments p ON p.comment_id = c.parent_id WHERE {where}",
    )
    names = (
        "thread",
        "parent",
        "name",
        "comment",
        "status",
        "email",
        "notify_replies",
        "created_at",
        "client",
        "edited",
    )
    return {source_id: dict(zip(names, values, strict=True)) for source_id, *values in found}


def listing(client, thread: str) -> list[dict]:
    return client.get("/comments", query_string={"thread": thread, "limit": 100}).get_json()["comments"]


# --- every format ---


def test_disqus(client, clean_database):
    summary = imported(clean_database, str(FIXTURES / "disqus.xml"))
    assert summary["format"] == "disqus" and summary["source"] == "disqus:exampleblog"
    assert (summary["imported"], summary["replies"], summary["tombstones"], summary["orphans"]) == (8, 2, 1, 1)
    assert (summary["rejected"], summary["threads_made"], summary["skipped"]) == (1, 3, {"deleted without replies": 1})
    assert summary["refused"] == 1 and "2009: its text must not be empty" in summary["text"]
    found = rows(clean_database)
    assert set(found) == {"2001", "2002", "2003", "2004", "2006", "2007", "2008", "2010"}
    assert found["2001"]["thread"] == "/2014/test/" and found["2008"]["thread"] == "/?p=4"
    assert found["2010"]["thread"] == "custom-identifier" and found["2010"]["name"] == "Anonymous"
    assert found["2001"]["comment"] == (
        "First & foremost: <tags> are text here.\n\n"
        "See this page (https://example.org/page) and https://example.org/a/very/long/address"
    )  # paragraphs, entities, links kept; the script dropped
    assert found["2003"] == {**found["2003"], "parent": "2001", "comment": "Agreed!\nOn two lines."}
    assert found["2002"] == {**found["2002"], "status": "deleted", "name": None, "comment": None, "email": None}
    assert found["2004"]["parent"] == "2002"  # under its tombstone
    assert found["2006"]["status"] == "rejected" and found["2007"]["parent"] is None  # spam; an orphan
    assert found["2008"]["comment"] == "Ça marche très bien — 日本語もOK 👍" and found["2008"]["name"] == "Zoë"
    assert found["2008"]["created_at"] == "2014-05-07T05:00:00Z"  # +02:00 in the file, UTC here
    assert found["2001"]["email"] == "ann@example.tld" and not any(row["notify_replies"] for row in found.values())
    # The sender's pseudonym, as the service computes it for its own posts; never the address.
    assert found["2001"]["client"] == client_fingerprint(TEST_ENVIRONMENT["SECRET_KEY"], "198.51.100.5")
    assert found["2008"]["client"] == client_fingerprint(TEST_ENVIRONMENT["SECRET_KEY"], "2001:db8::99")  # same /64
    shown = listing(client, "/2014/test/")
    assert [comment["name"] for comment in shown] == ["Ann", None, "Bob", "Dee", "Fay"]  # oldest first
    assert "email" not in shown[0] and client.get("/counts?thread=/2014/test/").get_json()["counts"] == {
        "/2014/test/": 4
    }


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_wordpress(client, clean_database, tmp_path, version):
    export = tmp_path / "wordpress.xml"
    export.write_text((FIXTURES / "wordpress.xml").read_text().replace("export/1.2/", f"export/{version}/"))
    summary = imported(clean_database, str(export))
    assert summary["source"] == "wordpress:https://blog.example.tld"
    assert summary["skipped"] == {"deleted without replies": 0, "pingbacks and trackbacks": 2}
    assert summary["refused"] == 1 and "24: its text must be at most 10000 characters" in summary["text"]
    found = rows(clean_database)
    assert set(found) == {"11", "12", "21", "22", "23"}
    assert found["12"]["parent"] == "11" and found["12"]["thread"] == "/2010/01/hello-world/"
    assert (
        found["12"]["comment"]
        == "A reply, listed before its parent.\nIt has two lines & an example link (https://example.org/)."
    )
    assert found["11"]["created_at"] == "2010-01-01T11:00:00Z"  # comment_date_gmt
    assert found["21"] == {**found["21"], "status": "pending", "created_at": "2010-02-01T09:30:00Z", "thread": "/?p=4"}
    assert found["22"]["status"] == "rejected" and found["23"]["status"] == "rejected"  # spam, trash
    assert [comment["name"] for comment in listing(client, "/2010/01/hello-world/")] == ["Al", "Bea"]


def isso_database(path: Path) -> None:
    """An Isso database, with Isso's own schema."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR(256));
        CREATE TABLE comments (tid REFERENCES threads(id), id INTEGER PRIMARY KEY, parent INTEGER,
            created FLOAT NOT NULL, modified FLOAT, mode INTEGER, remote_addr VARCHAR, text VARCHAR,
            author VARCHAR, email VARCHAR, website VARCHAR, likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0,
            voters BLOB NOT NULL, notification INTEGER DEFAULT 0);
        INSERT INTO threads VALUES (1, '/posts/isso/', 'Isso'), (2, '/posts/other/', 'Other');
        INSERT INTO comments VALUES
            (1, 3, 2, 1500000300.5, NULL, 1, '198.51.100.0', 'A reply *in Markdown*', 'Ray', 'ray@example.tld', '',
                0, 0, '', 1),
            (1, 1, NULL, 1500000000.25, 1500000100, 1, '198.51.100.0', 'First', 'Ida', NULL, '', 0, 0, '', 0),
            (1, 2, NULL, 1500000200, NULL, 4, '198.51.100.0', '', NULL, NULL, NULL, 0, 0, '', 0),
            (2, 4, NULL, 1500000400, NULL, 2, '198.51.100.0', 'Held for moderation', 'Mo', NULL, '', 0, 0, '', 0);
    """)  # fmt: skip
    db.commit()
    db.close()


def test_isso_database(client, clean_database, tmp_path):
    isso_database(tmp_path / "comments.db")
    summary = imported(clean_database, str(tmp_path / "comments.db"))
    assert summary["format"] == "isso" and (summary["tombstones"], summary["pending"]) == (1, 1)
    found = rows(clean_database)
    assert found["3"] == {**found["3"], "parent": "2", "comment": "A reply *in Markdown*", "notify_replies": False}
    assert found["2"]["status"] == "deleted" and found["1"]["edited"] and found["4"]["status"] == "pending"
    assert found["1"]["created_at"] == "2017-07-14T02:40:00Z"
    assert [comment["id"] for comment in listing(client, "/posts/isso/")] == sorted(
        comment["id"] for comment in listing(client, "/posts/isso/")
    )


def test_isso_database_from_standard_input(clean_database, tmp_path):
    isso_database(tmp_path / "comments.db")
    summary = imported(clean_database, "-", stdin=(tmp_path / "comments.db").read_bytes())
    assert summary["imported"] == 4


def test_isso_json(clean_database):
    summary = imported(clean_database, str(FIXTURES / "isso.json"))
    assert summary["format"] == "isso" and summary["imported"] == 3
    found = rows(clean_database)
    assert set(found) == {"/blog/article1/#1", "/blog/article1/#2", "/blog/article2/#1"}  # ids repeat across threads
    assert found["/blog/article1/#2"]["comment"] == "I *hated* it.\n\nReally."
    assert found["/blog/article2/#1"]["created_at"] == "2019-01-05T08:00:00Z"


@pytest.mark.parametrize("compressed", [False, True])
def test_remark42(client, clean_database, tmp_path, compressed):
    backup = (FIXTURES / "remark42.jsonl").read_bytes()
    path = tmp_path / "backup.gz"
    path.write_bytes(gzip.compress(backup) if compressed else backup)
    summary = imported(clean_database, str(path))
    assert summary["source"] == "remark42:radio" and (summary["replies"], summary["tombstones"]) == (2, 1)
    found = rows(clean_database, "i.source_id LIKE 'a1b2%%'")
    one, deleted, reply, html = (found[f"a1b2c3d4-0000-0000-0000-00000000000{n}"] for n in (1, 2, 3, 4))
    assert one["comment"] == "First *comment*." and one["created_at"] == "2019-01-05T07:00:00Z"
    assert deleted["status"] == "deleted" and reply["parent"] == "a1b2c3d4-0000-0000-0000-000000000002"
    assert reply["edited"] and html["comment"] == "Only HTML here & a link (https://example.org/x)."
    assert html["thread"] == "/p/2019/01/06/podcast-2/?utm=x"


def test_commento(clean_database):
    summary = imported(clean_database, str(FIXTURES / "commento.json"))
    assert summary["source"] == "commento:blog.example.tld"
    assert summary["skipped"] == {"deleted without replies": 1}
    found = rows(clean_database)
    assert found["c2"] == {**found["c2"], "parent": "c1", "name": "Quinn", "email": "quinn@example.tld"}
    assert found["c3"] == {**found["c3"], "status": "pending", "name": "Anonymous"}
    assert found["c4"]["status"] == "rejected" and found["c1"]["thread"] == "/posts/one"


def test_whole_urls_as_thread_keys(clean_database):
    imported(clean_database, "--thread-key", "url", str(FIXTURES / "disqus.xml"))
    assert rows(clean_database)["2001"]["thread"] == "http://example.tld/2014/test/"


def test_the_format_can_be_named_and_a_wrong_one_is_refused(clean_database):
    assert imported(clean_database, "--format", "disqus", str(FIXTURES / "disqus.xml"))["imported"] == 8
    result = run_import(clean_database, "--format", "wordpress", str(FIXTURES / "commento.json"))
    assert result.returncode == 1 and b"malformed" in result.stderr


# --- moving in without losing or repeating anything ---


def test_running_the_same_import_again_adds_nothing(client, clean_database):
    first = imported(clean_database, str(FIXTURES / "disqus.xml"))
    before = query(clean_database, "SELECT id, name, comment, status, txid FROM comments ORDER BY id")
    again = imported(clean_database, str(FIXTURES / "disqus.xml"))
    assert (again["imported"], again["already_there"]) == (0, first["imported"])
    assert query(clean_database, "SELECT id, name, comment, status, txid FROM comments ORDER BY id") == before


def test_an_erased_comment_stays_erased_when_the_import_runs_again(client, clean_database):
    imported(clean_database, str(FIXTURES / "disqus.xml"))
    (fay,) = query(clean_database, "SELECT c.id FROM comments c JOIN imported_comments i ON i.comment_id = c.id"
                                   " WHERE i.source_id = '2007'")[0]  # fmt: skip
    assert client.delete(f"/admin/comments/{fay}", headers=ADMIN).status_code == 204
    again = imported(clean_database, str(FIXTURES / "disqus.xml"))
    assert again["imported"] == 0 and "2007" not in rows(clean_database)


def test_nothing_that_was_there_is_changed(client, clean_database):
    mine = client.post("/comments", json={"thread": "/2014/test/", "name": "Me", "comment": "Already here"}).get_json()
    before = query(clean_database, "SELECT * FROM comments")
    imported(clean_database, str(FIXTURES / "disqus.xml"))
    assert query(clean_database, "SELECT * FROM comments WHERE id = %s", (mine["id"],)) == before


def test_imported_comments_take_their_place_in_time_among_those_already_there(client, clean_database):
    """Comments already in the thread (one older than some imported ones, one posted today) and
    the imported ones are listed together oldest first, each exactly once when paged."""
    older = client.post("/comments", json={"thread": "/2014/test/", "name": "Older", "comment": "x"}).get_json()
    query(clean_database, "UPDATE comments SET created_at = '2014-05-01T11:00:00Z' WHERE id = %s", (older["id"],))
    client.post("/comments", json={"thread": "/2014/test/", "name": "Today", "comment": "y"})
    imported(clean_database, str(FIXTURES / "disqus.xml"))
    client.post("/comments", json={"thread": "/2014/test/", "name": "After", "comment": "z"})
    expected = ["Ann", "Older", None, "Bob", "Dee", "Fay", "Today", "After"]
    assert [comment["name"] for comment in listing(client, "/2014/test/")] == expected
    paged, cursor = [], None
    while True:
        asked = {"thread": "/2014/test/", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/comments", query_string=asked).get_json()
        paged += [comment["name"] for comment in page["comments"]]
        if not (cursor := page["next_cursor"]):
            break
    assert paged == expected
    newest = client.get("/comments", query_string={"thread": "/2014/test/", "order": "newest"}).get_json()
    assert [comment["name"] for comment in newest["comments"]] == expected[::-1]


def test_an_import_is_silent_and_not_rate_limited(clean_database):
    """With webhooks, reply e-mails and a rate limit of one post an hour configured: no event is
    written for the worker, no limit is charged, and the counts are right."""
    loud = {"RATE_LIMIT_POSTS": "1/hour", "WEBHOOK_URLS": "http://127.0.0.1:9/hook", "WEBHOOK_SECRET": "w" * 32,
            "SMTP_URL": "smtp://127.0.0.1:9", "MAIL_FROM": "comments@example.tld"}  # fmt: skip
    app = create_app(settings_for(clean_database, **loud))
    summary = imported(clean_database, str(FIXTURES / "disqus.xml"), **loud)
    assert summary["imported"] == 8
    assert query(clean_database, "SELECT count(*) FROM outbox")[0][0] == 0
    assert query(clean_database, "SELECT count(*) FROM post_limits")[0][0] == 0
    counts = app.test_client().get("/counts?thread=/2014/test/&thread=/?p=4&thread=custom-identifier").get_json()
    assert counts["counts"] == {"/2014/test/": 4, "/?p=4": 1, "custom-identifier": 1}
    posted = app.test_client().post("/comments", json={"thread": "/?p=4", "name": "New", "comment": "hello"})
    assert posted.status_code == 201  # the limit was not spent by the import
    assert query(clean_database, "SELECT count(*) FROM outbox")[0][0] > 0  # while a post does wake the outbox
    app.extensions["comments_db"].close()


def test_a_dry_run_writes_nothing_and_shows_what_it_would_refuse(clean_database):
    result = run_import(clean_database, "--dry-run", str(FIXTURES / "wordpress.xml"))
    assert result.returncode == 0
    assert "would import" in result.stdout.decode() and "24: its text must be at most 10000" in result.stdout.decode()
    assert query(clean_database, "SELECT count(*) FROM comments")[0][0] == 0
    assert query(clean_database, "SELECT count(*) FROM imported_comments")[0][0] == 0


def test_an_import_killed_halfway_and_run_again_ends_as_one_complete_run(clean_database, database_url, tmp_path):
    """Killed while its second batch waits (a lock held by this test), with the database connection
    dropped as in a restart; run again, it adds exactly what is missing."""
    export = tmp_path / "disqus.xml"
    with export.open("w") as file:
        sample_exports.disqus(3000, file, forum="killed")
    last_thread_post = "1002999"  # threads are inserted in key order; this post is in the last
    blocker = _open_transaction(
        clean_database,
        "INSERT INTO imported_comments (source, source_id) VALUES ('disqus:killed', %s)",
        (last_thread_post,),
    )
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": clean_database}
    command = [sys.executable, "-m", "transfer.importer", "--batch-rows", "500", str(export)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _import_waits_on_a_lock(clean_database), timeout=60)
        done_before_kill = query(clean_database, "SELECT count(*) FROM imported_comments")[0][0]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        query(clean_database, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE application_name = 'comments-import'")  # fmt: skip
    finally:
        blocker.rollback()
        blocker.close()
    assert 0 < done_before_kill < 2900
    again = imported(clean_database, str(export))
    assert again["already_there"] == done_before_kill
    with scratch_database(database_url, "import_whole_run") as whole:
        from store import migrate

        migrate.migrate(whole)
        once = imported(whole, str(export))
        assert again["imported"] + again["already_there"] == once["imported"]
        assert rows(clean_database) == rows(whole)
    assert query(clean_database, "SELECT count(*) FROM comments")[0][0] == once["imported"]


def _open_transaction(database_url: str, sql: str, params: tuple):
    import psycopg2

    conn = psycopg2.connect(database_url)
    conn.cursor().execute(sql, params)
    return conn  # not committed: whoever inserts the same key waits


def _import_waits_on_a_lock(database_url: str) -> bool:
    found = query(database_url, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'comments-import'"
                                " AND wait_event_type = 'Lock'")  # fmt: skip
    return bool(found)


# --- files that must be refused, with nothing written ---


@pytest.mark.parametrize("name", ["billion-laughs.xml", "xxe.xml"])
def test_entities_are_never_expanded(clean_database, name):
    result = run_import(clean_database, str(FIXTURES / name))
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.decode().splitlines() if not line.startswith("{")]
    assert line.startswith("import refused: the XML declares a DTD")
    assert b"root:" not in result.stdout + result.stderr  # nothing of /etc/passwd
    assert query(clean_database, "SELECT count(*) FROM comments")[0][0] == 0


def test_a_truncated_file_names_where_it_broke(clean_database, tmp_path):
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes((FIXTURES / "disqus.xml").read_bytes()[:5000])
    result = run_import(clean_database, str(truncated))
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.decode().splitlines() if not line.startswith("{")]
    assert line.startswith("import refused: the XML is malformed at line ") and ", column " in line
    assert query(clean_database, "SELECT count(*) FROM comments")[0][0] == 0


def test_malformed_json_lines_and_unknown_files_are_refused(clean_database, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes((FIXTURES / "remark42.jsonl").read_bytes() + b'{"id": "x", "locator": \n')
    result = run_import(clean_database, str(broken))
    assert result.returncode == 1 and b"line 6 is not JSON" in result.stderr
    unknown = tmp_path / "notes.txt"
    unknown.write_text("just some notes")
    result = run_import(clean_database, str(unknown))
    assert result.returncode == 1 and b"not one this service imports" in result.stderr
    result = run_import(clean_database, str(tmp_path / "missing.xml"))
    assert result.returncode == 1 and b"cannot read" in result.stderr
    assert query(clean_database, "SELECT count(*) FROM comments")[0][0] == 0


def test_standard_input(clean_database):
    summary = imported(clean_database, "-", stdin=(FIXTURES / "disqus.xml").read_bytes())
    assert summary["imported"] == 8


# --- this service's own export ---


def test_export_then_import_into_an_empty_database_then_export_gives_the_same_lines(
    client, clean_database, database_url
):
    first = client.post("/comments", json={"thread": "t", "name": "Ann", "comment": "Hello", "email": "ann@x.example",
                                           "notify_replies": True}).get_json()  # fmt: skip
    reply = client.post("/comments", json={"thread": "t", "name": "Bob", "comment": "Hi", "parent_id": first["id"]})
    client.post("/comments", json={"thread": "u", "name": "Cy", "comment": "held", "website": "x"})  # pending
    edited = client.post("/comments", json={"thread": "u", "name": "Dee", "comment": "tpyo"}).get_json()
    client.patch(f"/comments/{edited['id']}", json={"comment": "typo"}, headers=_author(edited))
    client.delete(f"/comments/{first['id']}", headers=_author(first))  # a tombstone above Bob's reply
    assert reply.status_code == 201
    backup = _export(clean_database, "--private")
    with scratch_database(database_url, "import_round_trip") as empty:
        from store import migrate

        migrate.migrate(empty)
        summary = imported(empty, "-", stdin=backup)
        assert summary["format"] == "native" and summary["imported"] == 4
        assert _lines(_export(empty, "--private")) == _lines(backup)
        assert imported(empty, "-", stdin=backup)["imported"] == 0  # and again: nothing new
        next_id = query(empty, "SELECT nextval(pg_get_serial_sequence('comments', 'id'))")[0][0]
        assert next_id > max(line["id"] for line in _lines(backup)[1:])  # new posts never take a restored id


def test_a_backup_imported_next_to_other_comments_gets_new_ids_and_keeps_its_replies(client, clean_database):
    first = client.post("/comments", json={"thread": "t", "name": "Ann", "comment": "Hello"}).get_json()
    client.post("/comments", json={"thread": "t", "name": "Bob", "comment": "Hi", "parent_id": first["id"]})
    backup = _export(clean_database)
    query(clean_database, "DELETE FROM comments WHERE parent_id IS NOT NULL")
    query(clean_database, "UPDATE comments SET comment = 'Mine now' WHERE id = %s", (first["id"],))
    summary = imported(clean_database, "-", stdin=backup)  # id 1 is taken (by another comment now), id 2 is free
    assert summary["imported"] == 2
    copies = query(clean_database, "SELECT id, parent_id, comment FROM comments WHERE comment IN ('Hello', 'Hi')"
                                   " ORDER BY created_at")  # fmt: skip
    (hello_id, _, _), (_, hi_parent, _) = copies
    assert hello_id != first["id"] and hi_parent == hello_id
    assert query(clean_database, "SELECT comment FROM comments WHERE id = %s", (first["id"],)) == [("Mine now",)]


def _author(made: dict) -> dict:
    return {"Authorization": f"Bearer {made['edit_token']}"}


def _export(database_url: str, *arguments: str, **environment: str) -> bytes:
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": database_url, **environment}
    command = [sys.executable, "-m", "transfer.export", *arguments]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def _lines(export: bytes) -> list[dict]:
    header, *lines = (orjson.loads(line) for line in export.splitlines())
    return [{key: value for key, value in header.items() if key != "exported_at"}, *lines]


def test_a_backup_with_its_images_comes_back_whole(media_client, clean_database, database_url, media_environment,
                                                   tmp_path):  # fmt: skip
    data = {"name": "Ann", "comment": "a picture", "image": [(io.BytesIO(pictures.still("PNG")), "a.png")]}
    made = media_client.post("/comments", data=data, content_type="multipart/form-data").get_json()
    backup = _export(clean_database, "--with-images", str(tmp_path / "images"), **media_environment)
    (key,) = [image["key"] for image in _lines(backup)[1]["images"]]
    assert (tmp_path / "images" / key).read_bytes() == s3_client(media_environment).get_object(
        Bucket=media_environment["MEDIA_BUCKET"], Key=key
    )["Body"].read()
    empty_bucket(media_environment)  # the bucket lost too: the backup must be complete
    with scratch_database(database_url, "import_images") as empty:
        from store import migrate

        migrate.migrate(empty)
        summary = imported(empty, "--with-images", str(tmp_path / "images"), "-", stdin=backup, **media_environment)
        assert summary["imported"] == 1 and key in stored_keys(media_environment)
        assert _lines(_export(empty, **media_environment)) == _lines(backup)
        assert query(empty, "SELECT count(*) FROM comment_media cm JOIN media m ON m.id = cm.media_id"
                            " WHERE m.key = %s AND cm.comment_id = %s", (key, made["id"]))[0][0] == 1  # fmt: skip
        app = create_app(settings_for(empty, **media_environment))
        assert app.test_client().get(f"/media/{key}").status_code == 302
        app.extensions["comments_db"].close()


def test_an_image_missing_or_altered_is_left_out_and_counted(media_client, clean_database, database_url,
                                                            media_environment, tmp_path):  # fmt: skip
    data = {"name": "Ann", "comment": "a picture", "image": [(io.BytesIO(pictures.still("PNG")), "a.png")]}
    media_client.post("/comments", data=data, content_type="multipart/form-data")
    backup = _export(clean_database, "--with-images", str(tmp_path / "images"), **media_environment)
    (key,) = [image["key"] for image in _lines(backup)[1]["images"]]
    (tmp_path / "images" / key).write_bytes(pictures.still("PNG", size=(3, 3)))  # not the bytes its key names
    empty_bucket(media_environment)
    with scratch_database(database_url, "import_altered_image") as empty:
        from store import migrate

        migrate.migrate(empty)
        summary = imported(empty, "--with-images", str(tmp_path / "images"), "-", stdin=backup, **media_environment)
        assert summary["imported"] == 1 and summary["skipped"]["images not found (left out of their comments)"] == 1
        assert stored_keys(media_environment) == set() and query(empty, "SELECT images FROM comments") == [([],)]


def test_progress_is_a_log_line_per_ten_thousand_comments_or_a_bar_on_a_terminal(database_url, tmp_path):
    import pty

    export = tmp_path / "disqus.xml"
    with export.open("w") as file:
        sample_exports.disqus(20_000, file, forum="progress")
    with scratch_database(database_url, "import_progress") as empty:
        from store import migrate

        migrate.migrate(empty)
        result = run_import(empty, "--dry-run", str(export))
        progress = [orjson.loads(line) for line in result.stderr.splitlines() if b'"import progress"' in line]
        assert [(line["phase"], line["comments"]) for line in progress] == [("reading", 10_000), ("reading", 20_000)]
        assert {"per_second", "seconds", "seconds_left"} <= set(progress[0])
        controller, terminal = pty.openpty()
        env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": empty}
        command = [sys.executable, "-m", "transfer.importer", str(export)]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=terminal)
        os.close(terminal)
        shown = b""
        while chunk := _read_terminal(controller):
            shown += chunk
        assert process.wait(timeout=60) == 0
        assert b"\rreading: [" in shown and b" left" in shown
        assert b"\rimporting: [##############################] " in shown and b'"import progress"' not in shown


def _read_terminal(controller: int) -> bytes:
    try:
        return os.read(controller, 65536)
    except OSError:  # the other side closed: the process is done
        return b""
