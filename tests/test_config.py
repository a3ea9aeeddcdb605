"""Configuration: typed, validated, one clear line for a bad value."""

import subprocess
import sys

import pytest

from config import ConfigError, from_environment
from tests.service import ROOT


def test_defaults():
    settings = from_environment({"DATABASE_URL": "postgresql://u@h/db"})
    assert settings.port == 5000
    assert settings.max_body_bytes == 131072
    assert settings.log_level == "info"
    assert settings.cors_origins == ()
    assert settings.trusted_proxies == 0
    assert settings.debug is False


@pytest.mark.parametrize(
    "env, named",
    [
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"MAX_BODY_BYTES": "-5"}, "MAX_BODY_BYTES"),
        ({"MAX_BODY_BYTES": "65536"}, "MAX_BODY_BYTES"),  # smaller than the largest valid comment
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"),
        ({"DB_POOL_SIZE": "many"}, "DB_POOL_SIZE"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DATABASE_REPLICA_URL": "replica:5432"}, "DATABASE_REPLICA_URL"),
        ({"REPLICA_MAX_LAG_SECONDS": "-1"}, "REPLICA_MAX_LAG_SECONDS"),
        ({"CORS_ORIGINS": "example.com"}, "CORS_ORIGINS"),
        ({"FLASK_DEBUG": "maybe"}, "FLASK_DEBUG"),
    ],
)
def test_bad_values_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        from_environment(env)


def test_database_url_is_required_to_serve():
    with pytest.raises(ConfigError, match="DATABASE_URL is not set"):
        from_environment({}).require_database_url()


def test_database_url_is_never_echoed():
    with pytest.raises(ConfigError) as raised:
        from_environment({"DATABASE_URL": "mysql://user:s3cret@host/db"})
    assert "s3cret" not in str(raised.value)


def run_gunicorn_check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--check-config", "app:app"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_gunicorn_refuses_to_start_with_one_line_naming_the_variable():
    result = run_gunicorn_check({"PORT": "nope", "DATABASE_URL": "postgresql://u@h/db"})
    assert result.returncode != 0
    assert result.stderr.strip() == "configuration error: PORT='nope' is not a whole number"


def test_gunicorn_refuses_to_start_without_database_url():
    result = run_gunicorn_check({})
    assert result.returncode != 0
    assert result.stderr.strip().startswith("configuration error: DATABASE_URL is not set")


def test_gunicorn_refuses_to_start_without_secret_key():
    result = run_gunicorn_check({"DATABASE_URL": "postgresql://u@h/db"})
    assert result.returncode != 0
    assert result.stderr.strip().startswith("configuration error: SECRET_KEY is not set")


@pytest.mark.parametrize("name", ["SECRET_KEY", "ADMIN_TOKEN"])
def test_short_secrets_are_refused_and_never_echoed(name):
    with pytest.raises(ConfigError, match=f"{name} must be at least 32 characters") as raised:
        from_environment({name: "hunter2-too-short"})
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "env, named",
    [
        ({"MODERATION": "post"}, "MODERATION"),
        ({"RATE_LIMIT_POSTS": "5/day"}, "RATE_LIMIT_POSTS"),
        ({"RATE_LIMIT_POSTS": "0/minute"}, "RATE_LIMIT_POSTS"),
        ({"RATE_LIMIT_POSTS": "many"}, "RATE_LIMIT_POSTS"),
        ({"EDIT_WINDOW_SECONDS": "-1"}, "EDIT_WINDOW_SECONDS"),
        ({"MAX_LINKS": "x"}, "MAX_LINKS"),
    ],
)
def test_bad_moderation_settings_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        from_environment(env)


def test_moderation_defaults():
    settings = from_environment({})
    assert (settings.moderation, settings.rate_limit_posts, settings.edit_window_seconds, settings.max_links) == (
        "off",
        (5, 60),
        900,
        3,
    )
    assert settings.admin_token is None and settings.secret_key is None


@pytest.mark.parametrize(
    "env, named",
    [
        ({"WEBHOOK_URLS": "https://hooks.example/a"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URLS": "ftp://hooks.example/a", "WEBHOOK_SECRET": "s" * 32}, "WEBHOOK_URLS"),
        ({"SMTP_URL": "http://mail.example"}, "SMTP_URL"),
        ({"SITE_URL": "blog.example"}, "SITE_URL"),
        ({"WEBHOOK_TIMEOUT": "0"}, "WEBHOOK_TIMEOUT"),
    ],
)
def test_bad_worker_settings_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        from_environment(env)


def test_webhook_urls_are_a_list():
    settings = from_environment({"WEBHOOK_URLS": "https://a.example/x, http://b.example/y", "WEBHOOK_SECRET": "s" * 32})
    assert settings.webhook_urls == ("https://a.example/x", "http://b.example/y")


def test_media_defaults_leave_images_off():
    settings = from_environment({})
    assert settings.media_bucket is None and settings.max_image_bytes == 5 * 1024 * 1024
    assert settings.max_image_pixels == 40_000_000 and settings.s3_region == "us-east-1"
    assert settings.s3_endpoint is settings.s3_public_endpoint is None
    assert settings.max_upload_bytes == 131072 + 4 * 5 * 1024 * 1024


def test_the_public_endpoint_defaults_to_the_store_endpoint():
    settings = from_environment({"MEDIA_BUCKET": "media", "AWS_ENDPOINT_URL_S3": "http://seaweedfs:8333"})
    assert settings.s3_public_endpoint == "http://seaweedfs:8333"
    other = from_environment({"AWS_ENDPOINT_URL_S3": "http://s:8333", "MEDIA_PUBLIC_ENDPOINT": "https://s3.example"})
    assert other.s3_public_endpoint == "https://s3.example"


@pytest.mark.parametrize(
    "env, named",
    [
        ({"MEDIA_BUCKET": "No_Such"}, "MEDIA_BUCKET"),
        ({"MEDIA_BUCKET": "ab"}, "MEDIA_BUCKET"),
        ({"MAX_IMAGE_BYTES": "100"}, "MAX_IMAGE_BYTES"),
        ({"MAX_IMAGE_PIXELS": "lots"}, "MAX_IMAGE_PIXELS"),
        ({"MEDIA_PUBLIC_URL": "cdn.example.com"}, "MEDIA_PUBLIC_URL"),
        ({"AWS_ENDPOINT_URL_S3": "seaweedfs:8333"}, "AWS_ENDPOINT_URL_S3"),
        ({"MEDIA_PUBLIC_ENDPOINT": "localhost:8333"}, "MEDIA_PUBLIC_ENDPOINT"),
    ],
)
def test_bad_media_settings_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        from_environment(env)


def test_base_urls_lose_their_trailing_slash_once_for_everyone():
    settings = from_environment({"PUBLIC_URL": "https://c.example/api/", "MEDIA_PUBLIC_URL": "https://cdn.example/i/"})
    assert (settings.public_url, settings.media_public_url) == ("https://c.example/api", "https://cdn.example/i")
