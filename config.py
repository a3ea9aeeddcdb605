"""Every setting, read once from the environment into a typed, validated object.

Twelve-factor config: nothing is read from files except a local `.env` during development
(python-dotenv), which never overrides variables already set and is kept out of images.
"""

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from dotenv import load_dotenv

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Every valid comment must fit in a body: its fields hold up to 10,300 characters, and one
# character can take 12 bytes on the wire (outside the BMP: "%F0%9F%98%80" in a form,
# "\ud83d\ude00" in JSON), so 128 KiB is both the default and the smallest limit allowed.
MIN_BODY_BYTES = 128 * 1024
MIN_SECRET_LENGTH = 32
MAX_IMAGES = 4  # image parts in one post
RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600}
MIB = 1024 * 1024
# S3's rules for bucket names (lower-case letters, digits, dots and hyphens; 3 to 63 long).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class ConfigError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Config:
    database_url: str | None
    database_replica_url: str | None
    replica_max_lag_seconds: int
    bind_host: str
    port: int
    web_concurrency: int
    threads: int
    log_level: str
    max_body_bytes: int
    db_pool_size: int
    db_connect_timeout: int
    db_statement_timeout_ms: int
    db_pool_timeout: float
    graceful_timeout: int
    cors_origins: tuple[str, ...]
    trusted_proxies: int
    secret_key: str | None
    admin_token: str | None
    edit_window_seconds: int
    moderation: str
    rate_limit_posts: tuple[int, int] | None  # (posts, seconds), or None when off
    rate_limit_votes: tuple[int, int] | None  # (votes, seconds), counted apart from posts
    max_links: int
    webhook_urls: tuple[str, ...]
    webhook_secret: str | None
    webhook_timeout: int
    webhook_max_attempts: int
    webhook_backoff_seconds: int
    smtp_url: str | None
    mail_from: str
    admin_session_hours: int
    moderator_emails: tuple[str, ...]  # told of held comments, in digests (delivery/digest.py)
    moderator_digest_minutes: int
    site_url: str | None
    public_url: str
    media_bucket: str | None  # None: images are switched off
    max_image_bytes: int
    max_image_pixels: int
    max_image_frames: int
    media_public_url: str | None
    s3_endpoint: str | None  # None: the provider's own (AWS)
    s3_public_endpoint: str | None
    s3_access_key_id: str | None  # None: the AWS SDK's own chain (profiles, instance roles...)
    s3_secret_access_key: str | None
    s3_region: str
    debug: bool

    @property
    def max_upload_bytes(self) -> int:
        """A multipart post: the text's own limit plus the largest images allowed."""
        return self.max_body_bytes + MAX_IMAGES * self.max_image_bytes

    def require_database_url(self) -> str:
        if not self.database_url:
            raise ConfigError(
                "DATABASE_URL is not set: give the PostgreSQL URL, "
                "e.g. postgresql://user:password@localhost:5432/comments"
            )
        return self.database_url

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise ConfigError(
                f"SECRET_KEY is not set: give a random secret of at least {MIN_SECRET_LENGTH} characters,"
                " e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self.secret_key


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range ({low} to {high})")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = _choice(env, name, "0", ("0", "1", "false", "true", "no", "yes", "off", "on"))
    return value in ("1", "true", "yes", "on")


def _database_url(env: Mapping[str, str], name: str = "DATABASE_URL") -> str | None:
    url = env.get(name, "").strip()
    if url and not url.startswith(("postgres://", "postgresql://")):
        # Never echo the value: it may hold a password.
        raise ConfigError(f"{name} must start with postgresql:// or postgres://")
    return url or None


def _secret(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if value and len(value) < MIN_SECRET_LENGTH:
        # Never echo the value.
        raise ConfigError(f"{name} must be at least {MIN_SECRET_LENGTH} characters long")
    return value or None


def _rate(env: Mapping[str, str], name: str, default: str) -> tuple[int, int] | None:
    """'N/second', 'N/minute', 'N/hour' -> (N, seconds), or 'off' -> None."""
    raw = env.get(name, "").strip().lower() or default
    if raw == "off":
        return None
    count, _, period = raw.partition("/")
    if not (count.isascii() and count.isdigit() and 1 <= int(count) <= 1_000_000 and period in RATE_PERIODS):
        raise ConfigError(f"{name}={raw!r} must be N/second, N/minute, N/hour (N from 1 to 1000000) or off")
    return int(count), RATE_PERIODS[period]


def _urls(env: Mapping[str, str], name: str, schemes: tuple[str, ...] = ("http://", "https://")) -> tuple[str, ...]:
    urls = tuple(url.strip() for url in env.get(name, "").split(",") if url.strip())
    for url in urls:
        if not url.startswith(schemes) or any(c.isspace() for c in url):
            # Name the position only: a URL may carry credentials.
            raise ConfigError(f"{name}: every entry must be a {' or '.join(schemes)} URL")
    return urls


def _emails(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    emails = tuple(email.strip() for email in env.get(name, "").split(",") if email.strip())
    for email in emails:
        local, at, domain = email.rpartition("@")
        if not (local and at and "." in domain) or any(c.isspace() or c in ",<>" for c in email):
            raise ConfigError(f"{name}: {email!r} is not an e-mail address")
    return emails


def _webhook_secret(env: Mapping[str, str], urls: tuple[str, ...]) -> str | None:
    secret = _secret(env, "WEBHOOK_SECRET")
    if urls and not secret:
        raise ConfigError(f"WEBHOOK_SECRET (at least {MIN_SECRET_LENGTH} characters) is required with WEBHOOK_URLS")
    return secret


def _url(env: Mapping[str, str], name: str) -> str | None:
    return next(iter(_urls(env, name)), None)


def _base_url(env: Mapping[str, str], name: str) -> str | None:
    """A URL that others are appended to ("/media/..."): without its trailing slash, once."""
    url = _url(env, name)
    return url.rstrip("/") if url else None


def _bucket(env: Mapping[str, str]) -> str | None:
    name = env.get("MEDIA_BUCKET", "").strip()
    if name and not BUCKET_NAME.fullmatch(name):
        raise ConfigError(f"MEDIA_BUCKET={name!r} is not a valid bucket name (a-z, 0-9, '.', '-'; 3 to 63 long)")
    return name or None


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in env.get("CORS_ORIGINS", "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"CORS_ORIGINS entry {origin!r} must be an http(s) origin or *")
    return origins


def _pool_size(env: Mapping[str, str], threads: int) -> int:
    """DB_POOL_SIZE: at least one connection per request thread, since a request holds one for
    its whole transaction; fewer would make requests wait for each other, then fail."""
    size = _integer(env, "DB_POOL_SIZE", max(4, threads), 1, 100)
    if size < threads:
        raise ConfigError(
            f"DB_POOL_SIZE={size} is smaller than GUNICORN_THREADS={threads}: each request thread needs a"
            f" connection of its own; set DB_POOL_SIZE to at least {threads}"
        )
    return size


def from_environment(env: Mapping[str, str]) -> Config:
    """Build a Config from a mapping of environment variables; raises ConfigError."""
    cores = os.cpu_count() or 1
    threads = _integer(env, "GUNICORN_THREADS", 2, 1, 64)
    port = _integer(env, "PORT", 5000, 1, 65535)
    return Config(
        database_url=_database_url(env),
        database_replica_url=_database_url(env, "DATABASE_REPLICA_URL"),
        replica_max_lag_seconds=_integer(env, "REPLICA_MAX_LAG_SECONDS", 5, 0, 3600),
        bind_host=env.get("BIND_HOST", "").strip() or "0.0.0.0",
        port=port,
        # gthread workers, one per core with two threads each: the fastest shape measured on a
        # 2-core machine (`pipenv run bench --sweep`), with keep-alive.
        web_concurrency=_integer(env, "WEB_CONCURRENCY", cores, 1, 64),
        threads=threads,
        log_level=_choice(env, "LOG_LEVEL", "info", LOG_LEVELS),
        max_body_bytes=_integer(env, "MAX_BODY_BYTES", MIN_BODY_BYTES, MIN_BODY_BYTES, 10 * 1024 * 1024),
        db_pool_size=_pool_size(env, threads),
        db_connect_timeout=_integer(env, "DB_CONNECT_TIMEOUT", 3, 2, 60),
        db_statement_timeout_ms=_integer(env, "DB_STATEMENT_TIMEOUT_MS", 3000, 100, 600_000),
        db_pool_timeout=_integer(env, "DB_POOL_TIMEOUT_MS", 3000, 10, 60_000) / 1000,
        graceful_timeout=_integer(env, "GRACEFUL_TIMEOUT", 20, 1, 600),
        cors_origins=_origins(env),
        # How many reverse proxies in front append to X-Forwarded-For; 0 trusts no forwarded header.
        trusted_proxies=_integer(env, "TRUSTED_PROXIES", 0, 0, 10),
        secret_key=_secret(env, "SECRET_KEY"),
        admin_token=_secret(env, "ADMIN_TOKEN"),
        edit_window_seconds=_integer(env, "EDIT_WINDOW_SECONDS", 900, 0, 30 * 86400),
        moderation=_choice(env, "MODERATION", "off", ("off", "pre")),
        rate_limit_posts=_rate(env, "RATE_LIMIT_POSTS", "5/minute"),
        rate_limit_votes=_rate(env, "RATE_LIMIT_VOTES", "30/minute"),
        max_links=_integer(env, "MAX_LINKS", 3, 0, 1000),
        webhook_urls=(webhooks := _urls(env, "WEBHOOK_URLS")),
        webhook_secret=_webhook_secret(env, webhooks),
        webhook_timeout=_integer(env, "WEBHOOK_TIMEOUT", 5, 1, 60),
        webhook_max_attempts=_integer(env, "WEBHOOK_MAX_ATTEMPTS", 10, 1, 100),
        # The first retry's wait; later ones are multiples of it (webhooks.RETRY_STEPS).
        webhook_backoff_seconds=_integer(env, "WEBHOOK_BACKOFF_SECONDS", 5, 1, 3600),
        smtp_url=next(iter(_urls(env, "SMTP_URL", ("smtp://", "smtps://"))), None),
        mail_from=env.get("MAIL_FROM", "").strip() or "comments@localhost",
        admin_session_hours=_integer(env, "ADMIN_SESSION_HOURS", 12, 1, 720),
        moderator_emails=_emails(env, "MODERATOR_EMAILS"),
        moderator_digest_minutes=_integer(env, "MODERATOR_DIGEST_MINUTES", 10, 1, 1440),
        site_url=next(iter(_urls(env, "SITE_URL")), None),
        # Absolute links (e-mails, image URLs) without PUBLIC_URL: this service, on its own port.
        public_url=_base_url(env, "PUBLIC_URL") or f"http://localhost:{port}",
        media_bucket=_bucket(env),
        max_image_bytes=_integer(env, "MAX_IMAGE_BYTES", 5 * MIB, 64 * 1024, 50 * MIB),
        max_image_pixels=_integer(env, "MAX_IMAGE_PIXELS", 40_000_000, 100_000, 200_000_000),
        max_image_frames=_integer(env, "MAX_IMAGE_FRAMES", 100, 1, 10_000),
        media_public_url=_base_url(env, "MEDIA_PUBLIC_URL"),
        # The AWS SDK's own variables, so that the same settings work for any S3 provider.
        s3_endpoint=(endpoint := _url(env, "AWS_ENDPOINT_URL_S3")),
        s3_public_endpoint=_url(env, "MEDIA_PUBLIC_ENDPOINT") or endpoint,
        s3_access_key_id=env.get("AWS_ACCESS_KEY_ID", "").strip() or None,
        s3_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "").strip() or None,
        s3_region=env.get("AWS_REGION", "").strip() or "us-east-1",
        debug=_flag(env, "FLASK_DEBUG"),
    )


def load() -> Config:
    """The process's configuration: `.env` (if any) fills in unset variables."""
    load_dotenv(override=False)
    return from_environment(os.environ)


def load_or_exit(*, need_database: bool = True, need_secret: bool = False) -> Config:
    """Like load(), but a bad setting ends the process with one line naming it."""
    try:
        config = load()
        if need_database:
            config.require_database_url()
        if need_secret:
            config.require_secret_key()
        return config
    except ConfigError as error:
        sys.stderr.write(f"configuration error: {error}\n")
        raise SystemExit(2) from None
