"""`pipenv run media-gc` against the real store and database: it removes objects no comment uses
(left by a crash between upload and commit) once they are past the grace period, and nothing else."""

import json
import os
import subprocess
import sys

import psycopg2

from tests import pictures
from tests.conftest import TEST_ENVIRONMENT, s3_client, stored_keys
from tests.service import ROOT
from tests.test_media import post_with_images

ORPHAN = "f" * 64 + ".png"


def media_gc(database_url: str, environment: dict, *arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENVIRONMENT, "DATABASE_URL": database_url, **environment}
    return subprocess.run(
        [sys.executable, "-m", "media.gc", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def leave_orphans(database_url: str, environment: dict) -> None:
    """What a crash leaves: an object with no row, and a claimed row whose comment never came."""
    client = s3_client(environment)
    client.put_object(Bucket=environment["MEDIA_BUCKET"], Key=ORPHAN, Body=pictures.still("PNG", colour=(8, 8, 8)))
    claimed = "e" * 64 + ".png"
    client.put_object(Bucket=environment["MEDIA_BUCKET"], Key=claimed, Body=pictures.still("PNG", colour=(9, 9, 9)))
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO media (key) VALUES (%s)", (claimed,))
    conn.close()


def test_media_gc_removes_orphans_past_the_grace_period_and_nothing_else(
    media_client, media_environment, clean_database
):
    used = post_with_images(media_client, pictures.still("JPEG")).json["images"][0]["url"].rsplit("/", 1)[1]
    leave_orphans(clean_database, media_environment)
    assert len(stored_keys(media_environment)) == 3

    within_grace = media_gc(clean_database, media_environment)  # the default hour protects them
    assert within_grace.returncode == 0, within_grace.stderr
    assert len(stored_keys(media_environment)) == 3

    collected = media_gc(clean_database, media_environment, "--grace-minutes", "0")
    assert collected.returncode == 0, collected.stderr
    report = json.loads(collected.stdout.splitlines()[-1])
    assert (report["unused_removed"], report["orphans_removed"]) == (1, 1)
    assert stored_keys(media_environment) == {used}
    assert media_client.get(f"/media/{used}").status_code == 302


def test_media_gc_without_a_bucket_has_nothing_to_do(clean_database):
    result = media_gc(clean_database, {})
    assert result.returncode == 0 and "nothing to collect" in result.stdout
