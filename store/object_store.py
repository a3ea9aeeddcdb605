"""The object store, an attached resource reached through the S3 API only (boto3).

The same code runs against AWS S3, Cloudflare R2, Ceph, MinIO or SeaweedFS: the endpoint,
credentials and region come from the AWS SDK's standard variables (config.py), the bucket from
MEDIA_BUCKET. One client per process (boto3 clients are thread-safe), made after gunicorn forks.

A store that is down or slow must not hold a request for long: every call has tight timeouts
and no retries of its own, and a post's uploads share one time budget (UPLOAD_BUDGET_SECONDS).
"""

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from config import Config
from core.exceptions import StorageUnavailable

log = logging.getLogger("comments.object_store")

CONNECT_TIMEOUT = 1
READ_TIMEOUT = 3
UPLOAD_BUDGET_SECONDS = 4  # all of one post's uploads; the post answers 503 within ~5 s
PRESIGNED_SECONDS = 3600  # how long a redirect's signed URL works
# Objects are named by their content, so a URL's bytes never change: caches may keep them.
IMMUTABLE = "public, max-age=31536000, immutable"


class ObjectStore:
    def __init__(self, settings: Config):
        self.bucket = settings.media_bucket
        self._settings = settings
        self._clients = None
        self._pid = None
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, content_type: str, deadline: float | None = None) -> None:
        """Upload one object; StorageUnavailable if the store fails or the deadline has passed."""
        if deadline is not None and time.monotonic() > deadline:
            raise StorageUnavailable()
        with _storage_errors("put"):
            self._client().put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                CacheControl=IMMUTABLE, ContentDisposition="inline",
            )  # fmt: skip

    def get(self, key: str) -> bytes:
        """One object's bytes (export --with-images)."""
        with _storage_errors("get"):
            return self._client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def exists(self, key: str) -> bool:
        """Whether the bucket holds this object (import: a backup's images may already be there)."""
        try:
            self._client().head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageUnavailable() from error
        except BotoCoreError as error:
            raise StorageUnavailable() from error

    def delete(self, key: str) -> None:
        with _storage_errors("delete"):
            self._client().delete_object(Bucket=self.bucket, Key=key)

    def presigned_url(self, key: str) -> str:
        """A URL that downloads the object for PRESIGNED_SECONDS, signed for the public endpoint.
        (Signing is local: no request is made.)"""
        with _storage_errors("presign"):
            return self._client(public=True).generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=PRESIGNED_SECONDS
            )

    def objects(self) -> Iterator[tuple[str, datetime]]:
        """Every object's key and last-modified time (for media-gc)."""
        with _storage_errors("list"):
            pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"]

    def ensure_bucket(self) -> bool:
        """Create the bucket unless it exists; True if it was created (for migrate)."""
        client = self._client()
        try:
            client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
        region = self._settings.s3_region
        options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client.create_bucket(Bucket=self.bucket, **options)
        return True

    def _client(self, public: bool = False):
        # Clients made before fork() would share connections with the parent: one per process.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    internal = self._make_client(self._settings.s3_endpoint)
                    for_browsers = internal
                    if self._settings.s3_public_endpoint != self._settings.s3_endpoint:
                        for_browsers = self._make_client(self._settings.s3_public_endpoint)
                    self._clients = (internal, for_browsers)
                    self._pid = os.getpid()
        return self._clients[1 if public else 0]

    def _make_client(self, endpoint: str | None):
        # Imported here: boto3 takes a third of a second to import, which every process that
        # never stores an image (images off, the worker, migrate) would pay at start.
        import boto3
        from botocore.config import Config as ClientConfig

        settings = self._settings
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=ClientConfig(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"mode": "standard", "total_max_attempts": 1},
                signature_version="s3v4",
                # Self-hosted stores (SeaweedFS, MinIO) are addressed by path; AWS by host name.
                s3={"addressing_style": "path" if endpoint else "auto"},
            ),
        )


@contextmanager
def _storage_errors(operation: str):
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        log.warning("object store call failed", extra={"operation": operation, "reason": str(error)})
        raise StorageUnavailable() from error
