"""A backup's images: `export --with-images DIR` copies each object out of the bucket into DIR,
one file per object key; `import --with-images DIR` puts them back. Keys name the content (the
SHA-256 of the bytes), so a file whose bytes do not match its name is not uploaded, and an
object already in the bucket is not uploaded again.

As posts do (media/storage.py), the import claims an object's media row before uploading it, so
media-gc leaves it alone until the comment that uses it is inserted. An image that is neither in
the bucket nor in DIR is left out of its comment (a comment never points at nothing) and counted.
"""

import hashlib
import re
from pathlib import Path

from store.object_store import ObjectStore
from transfer.sources import ImportRefused

KEY = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{2,5}")
CLAIM = "INSERT INTO media (key) VALUES (%s) ON CONFLICT (key) DO UPDATE SET claimed_at = now()"


def save(store: ObjectStore, keys: set[str], directory: Path) -> int:
    """Copy these objects into `directory` (skipping files already there); how many were copied."""
    directory.mkdir(parents=True, exist_ok=True)
    copied = 0
    for key in sorted(keys):
        target = directory / key
        if KEY.fullmatch(key) and not target.exists():
            partial = target.with_suffix(".partial")
            partial.write_bytes(store.get(key))
            partial.rename(target)  # a file under its key is always whole
            copied += 1
    return copied


class Restorer:
    """Decides which of a comment's images an import keeps, uploading them from DIR if needed."""

    def __init__(self, store: ObjectStore | None, directory: Path | None, cursor, skipped, dry_run: bool):
        if directory is not None and not directory.is_dir():
            raise ImportRefused(f"--with-images {directory}: no such folder")
        self.store, self.directory, self.cursor = store, directory, cursor
        self.skipped, self.dry_run = skipped, dry_run
        self.known: dict[str, bool] = {}

    def keep(self, images: list[dict]) -> list[dict]:
        kept = [image for image in images if self._available(image)]
        if len(kept) < len(images):
            self.skipped["images not found (left out of their comments)"] += len(images) - len(kept)
        return kept

    def _available(self, image: dict) -> bool:
        key = image["key"]
        if key not in self.known:
            self.known[key] = self.store is not None and KEY.fullmatch(key) is not None and self._place(image)
        return self.known[key]

    def _place(self, image: dict) -> bool:
        key = image["key"]
        if not self.dry_run:
            self.cursor.execute(CLAIM, (key,))
        if self.store.exists(key):
            return True
        source = self.directory / key if self.directory else None
        if source is None or not source.is_file():
            return False
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != key.partition(".")[0]:
            return False  # not the bytes the key names
        if not self.dry_run:
            self.store.put(key, data, str(image.get("content_type") or "application/octet-stream"))
        return True
