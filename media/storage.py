"""Images on comments, kept in the object store (store/object_store.py), never on the web
process's disk: checking and storing them, releasing them, and collecting what no comment uses.

The flow of an image:
  client --multipart POST--> API: media/images.py decodes and re-encodes it (in memory)
  API: claim the media row, upload the object (named by its content), then insert the comment,
       which refers to the row (comment_media) in the same statement as the comment (db.py)
  client --GET /media/{key}--> API --302--> a presigned URL of the store (or MEDIA_PUBLIC_URL),
       while a published comment shows the image (api/media.py; moderators: /admin/media/{key})

Objects and rows stay consistent without a distributed transaction (store/migrations/0005):
- every object is uploaded after its row was claimed, and a comment commits only if its rows
  still exist (a foreign key), so no acknowledged comment can point at a deleted object;
- a row is deleted only under its lock, after a fresh check that no comment uses it, and only
  after its object; a crash between upload and commit leaves an object no comment uses, which
  `pipenv run media-gc` (media/gc.py) removes after a grace period.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from config import MAX_IMAGES
from core.exceptions import Busy, StorageUnavailable, Unavailable
from db import CommentDatabase, database
from media import images
from media.images import ProcessedImage
from store.object_store import UPLOAD_BUDGET_SECONDS, ObjectStore
from web.payload import ImageLimits

log = logging.getLogger("comments.media")

# Claim a row before uploading: a new row, or a fresh claimed_at that deleters respect.
CLAIM = """INSERT INTO media (key) VALUES (%s)
    ON CONFLICT (key) DO UPDATE SET claimed_at = now() RETURNING id"""
# A deleter's two steps: lock the rows nobody is claiming, then (a new snapshot, taken after the
# lock, so a comment that committed meanwhile is seen) keep those no comment uses.
LOCK_IDLE = """SELECT id FROM media WHERE id = ANY(%s) AND claimed_at <= now() - make_interval(secs => %s)
    FOR UPDATE SKIP LOCKED"""
UNUSED = """SELECT id, key FROM media m WHERE id = ANY(%s)
    AND NOT EXISTS (SELECT 1 FROM comment_media cm WHERE cm.media_id = m.id)"""
DELETE = "DELETE FROM media WHERE id = ANY(%s)"
# media-gc: rows no comment uses, and rows for objects that have none (adopted, then deleted).
UNUSED_ROWS = """SELECT id FROM media m WHERE claimed_at <= now() - make_interval(secs => %s)
    AND NOT EXISTS (SELECT 1 FROM comment_media cm WHERE cm.media_id = m.id) ORDER BY id LIMIT %s"""
KNOWN_KEYS = "SELECT key FROM media WHERE key = ANY(%s)"
ADOPT = """INSERT INTO media (key, claimed_at) SELECT unnest(%s::text[]), '-infinity'::timestamptz
    ON CONFLICT (key) DO NOTHING RETURNING id"""
GC_BATCH = 500
SLOT_WAIT = 0.25  # seconds an upload waits for a free slot before the post answers 503 busy


def object_store() -> ObjectStore | None:
    """The app's object store, or None when images are switched off (no MEDIA_BUCKET)."""
    return current_app.extensions.get("object_store")


def image_limits() -> ImageLimits:
    """What a multipart post may carry (payload.py reads it within these)."""
    settings = current_app.config["SETTINGS"]
    return ImageLimits(per_image=settings.max_image_bytes, count=MAX_IMAGES, enabled=object_store() is not None)


@contextmanager
def upload_slot() -> Iterator[None]:
    """One of this process's slots for uploading to the store, or 503 when all stay busy for
    SLOT_WAIT: a slow object store then holds at most these threads, and the others keep serving
    reads. (A healthy store turns a slot over in milliseconds, so a burst of posts waits instead.)"""
    slots = current_app.extensions["upload_slots"]
    if not slots.acquire(timeout=SLOT_WAIT):
        raise Busy("Too many images are being posted right now; try again in a moment.")
    try:
        yield
    finally:
        slots.release()


def upload_slots(threads: int) -> threading.BoundedSemaphore:
    """Half of a process's threads at most (one with one or two threads) for image posts."""
    return threading.BoundedSemaphore(max(1, threads // 2))


def process(uploads: list[bytes]) -> list[ProcessedImage]:
    """Every uploaded image checked and re-encoded (InvalidImage names the first bad one)."""
    settings = current_app.config["SETTINGS"]
    limits = images.Limits(
        pixels=settings.max_image_pixels, frames=settings.max_image_frames, stored_bytes=settings.max_image_bytes
    )
    return [images.process(data, f"image[{n}]", limits) for n, data in enumerate(uploads, 1)]


def store(processed: list[ProcessedImage]) -> list[int]:
    """Claim and upload each image; their media ids, for the comment to refer to."""
    if not processed:
        return []
    objects, deadline = object_store(), time.monotonic() + UPLOAD_BUDGET_SECONDS
    media_ids = []
    for image in processed:
        (media_id,) = database().query(CLAIM, (image.key,), one=True)
        objects.put(image.key, image.data, image.content_type, deadline)
        media_ids.append(media_id)
    return media_ids


def release(media_ids: list[int]) -> None:
    """After a comment was erased or refused: delete the images it used that no other comment
    uses. Its answer stands whatever happens here: what cannot be deleted now, the worker's
    media-gc removes later."""
    try:
        delete_unused(database(), object_store(), media_ids)
    except Unavailable as error:
        log.warning("images left for media-gc", extra={"media_ids": media_ids, "reason": error.message})


def delete_unused(db: CommentDatabase, objects: ObjectStore | None, media_ids: list[int], grace: float = 0) -> int:
    """Delete the objects (then rows) of these media that no comment uses and nobody claimed
    within `grace` seconds; returns how many. A store that fails leaves them for media-gc."""
    if not media_ids or objects is None:
        return 0
    try:
        with db.transaction() as cursor:
            cursor.execute(LOCK_IDLE, (media_ids, grace))
            locked = [media_id for (media_id,) in cursor.fetchall()]
            cursor.execute(UNUSED, (locked,))
            unused = cursor.fetchall()
            for _, key in unused:
                objects.delete(key)
            cursor.execute(DELETE, ([media_id for media_id, _ in unused],))
    except StorageUnavailable:
        log.warning("images left for media-gc: the object store failed", extra={"media_ids": media_ids})
        return 0
    return len(unused)


def collect_garbage(db: CommentDatabase, objects: ObjectStore, grace: float) -> dict[str, int]:
    """What media-gc does: remove every object that no comment uses and that nobody has
    claimed for `grace` seconds, whether its row exists (a comment was deleted while the store
    was down) or not (a crash between an upload and its comment)."""
    unused = 0
    while batch := [media_id for (media_id,) in db.query(UNUSED_ROWS, (grace, GC_BATCH))]:
        deleted = delete_unused(db, objects, batch, grace)
        unused += deleted
        if deleted < len(batch):
            break  # locked by a deleter right now, or the store failed: the next run retries
    orphans = 0
    for keys in _batches(_objects_older_than(objects, grace)):
        known = {key for (key,) in db.query(KNOWN_KEYS, (keys,))}
        # Adopted as rows that nobody claims, so that the one locked deletion path removes them.
        adopted = [media_id for (media_id,) in db.query(ADOPT, ([key for key in keys if key not in known],))]
        orphans += delete_unused(db, objects, adopted, grace)
    return {"unused_removed": unused, "orphans_removed": orphans}


def _objects_older_than(objects: ObjectStore, grace: float):
    cutoff = time.time() - grace
    for key, modified in objects.objects():
        if modified.timestamp() <= cutoff:
            yield key


def _batches(keys, size: int = GC_BATCH):
    batch = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
