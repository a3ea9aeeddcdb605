"""Images on comments, against a real S3 store (SeaweedFS) and real PostgreSQL: what is accepted,
what is refused with nothing stored, what readers get, and what deletion leaves behind."""

import io

import psycopg2
import pytest
import requests
from PIL import Image

from tests import pictures
from tests.conftest import stored_keys

ADMIN = {"Authorization": "Bearer test-admin-token-" + "a" * 32}
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


def post_with_images(client, *images: bytes, **fields):
    data = {"name": "Ann", "comment": "Look at this", **fields}
    data["image"] = [(io.BytesIO(image), f"picture{n}.jpg") for n, image in enumerate(images)]
    return client.post("/comments", data=data, content_type="multipart/form-data")


def download(client, image: dict) -> requests.Response:
    """Follow an image's URL as a browser would: the API's redirect, then the store."""
    path = image["url"].split("localhost:5000", 1)[1]
    redirect = client.get(path)
    assert redirect.status_code == 302, redirect.data
    response = requests.get(redirect.headers["Location"], timeout=10)
    assert response.status_code == 200
    return response


def table_counts(database_url: str) -> tuple[int, int, int]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM comments), (SELECT count(*) FROM media),"
                       " (SELECT count(*) FROM comment_media)")  # fmt: skip
        counts = cursor.fetchone()
    conn.close()
    return counts


@pytest.mark.parametrize("image_format", FORMATS)
def test_each_format_is_stored_and_served_with_its_real_type(media_client, media_environment, image_format):
    response = post_with_images(media_client, pictures.still(image_format))
    assert response.status_code == 201, response.json
    (image,) = response.json["images"]
    assert image["content_type"] == FORMATS[image_format]
    assert (image["width"], image["height"]) == (120, 80)
    served = download(media_client, image)
    assert served.headers["Content-Type"] == FORMATS[image_format]
    assert len(served.content) == image["bytes"]
    assert Image.open(io.BytesIO(served.content)).format == image_format
    assert stored_keys(media_environment) == {image["url"].rsplit("/", 1)[1]}


def test_exif_and_gps_are_gone_and_the_orientation_is_applied(media_client):
    response = post_with_images(media_client, pictures.photo_with_gps(size=(120, 80)))
    (image,) = response.json["images"]
    assert (image["width"], image["height"]) == (80, 120)  # turned as the EXIF said
    stored = Image.open(io.BytesIO(download(media_client, image).content))
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info and b"Canon" not in download(media_client, image).content


def test_an_animated_gif_stays_animated(media_client):
    (image,) = post_with_images(media_client, pictures.animated_gif(frames=3)).json["images"]
    assert Image.open(io.BytesIO(download(media_client, image).content)).n_frames == 3


def test_large_photos_are_stored_at_most_2048_pixels_wide(media_client):
    (image,) = post_with_images(media_client, pictures.large_photo((3000, 2000))).json["images"]
    assert (image["width"], image["height"]) == (2048, 1365)


def test_images_keep_their_order_and_every_reader_sees_them(media_client):
    first, second = pictures.still("PNG", colour=(1, 2, 3)), pictures.still("JPEG", colour=(9, 9, 9))
    created = post_with_images(media_client, first, second, thread="t").json
    assert [image["content_type"] for image in created["images"]] == ["image/png", "image/jpeg"]
    listed = media_client.get("/comments?thread=t").json["comments"][0]
    assert listed["images"] == created["images"] == media_client.get(f"/comments/{created['id']}").json["images"]
    admin = media_client.get("/admin/comments", headers=ADMIN).json["comments"][0]
    for_moderators = [{**image, "url": image["url"].replace("/media/", "/admin/media/")} for image in created["images"]]
    assert admin["images"] == for_moderators


def test_the_same_picture_twice_is_one_object(media_client, media_environment):
    picture = pictures.still("PNG")
    one = post_with_images(media_client, picture, comment="one").json["images"][0]
    two = post_with_images(media_client, picture, comment="two").json["images"][0]
    assert one["url"] == two["url"]
    assert len(stored_keys(media_environment)) == 1


def test_text_comments_have_no_images_and_multipart_text_alone_works(media_client):
    assert media_client.post("/comments", json={"name": "A", "comment": "json"}).json["images"] == []
    response = post_with_images(media_client, comment="no pictures", parent_id="")
    assert response.status_code == 201 and response.json["images"] == []


@pytest.mark.parametrize("hostile", pictures.HOSTILE)
def test_hostile_files_are_refused_naming_the_part_and_nothing_is_stored(
    media_client, media_environment, clean_database, hostile
):
    response = post_with_images(media_client, pictures.still("PNG"), pictures.HOSTILE[hostile]())
    assert response.status_code == 400, response.json
    assert response.json["code"] == "invalid_image"
    assert list(response.json["fields"]) == ["image[2]"]
    assert table_counts(clean_database) == (0, 0, 0)
    assert stored_keys(media_environment) == set()


def test_an_image_over_the_size_limit_is_413_and_nothing_is_stored(clean_database, media_environment, s3_environment):
    from app import create_app
    from tests.conftest import settings_for

    app = create_app(settings_for(clean_database, **media_environment, MAX_IMAGE_BYTES=str(64 * 1024)))
    response = post_with_images(app.test_client(), pictures.large_photo((600, 600)))
    assert response.status_code == 413
    assert response.json["code"] == "image_too_large" and "image[1]" in response.json["error"]
    assert table_counts(clean_database) == (0, 0, 0) and stored_keys(media_environment) == set()


def test_more_than_four_images_are_refused(media_client):
    response = post_with_images(media_client, *[pictures.still("PNG", colour=(n, 0, 0)) for n in range(5)])
    assert response.status_code == 400 and response.json["fields"] == {"image": "at most 4 images per comment"}


def test_other_file_fields_are_refused(media_client):
    data = {"name": "A", "comment": "x", "avatar": (io.BytesIO(pictures.still("PNG")), "a.png")}
    response = media_client.post("/comments", data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and "avatar" in response.json["fields"]


def test_without_a_bucket_images_are_refused_and_text_still_works(client):
    response = post_with_images(client, pictures.still("PNG"))
    assert response.status_code == 400 and response.json["code"] == "images_disabled"
    assert post_with_images(client).status_code == 201
    assert client.get("/media/" + "0" * 64 + ".png").status_code == 404


def test_unknown_media_keys_are_404_in_json(media_client):
    for path in ("/media/" + "a" * 64 + ".png", "/media/..%2Fsecret", "/media/x.png"):
        response = media_client.get(path)
        assert response.status_code == 404 and response.json["code"] == "not_found"


def test_the_redirect_points_at_a_signed_url_that_cannot_be_tampered_with(media_client):
    (image,) = post_with_images(media_client, pictures.still("PNG")).json["images"]
    redirect = media_client.get(image["url"].split("localhost:5000", 1)[1])
    assert "X-Amz-Signature=" in redirect.headers["Location"]
    assert redirect.headers["Cache-Control"] == "public, max-age=600"
    tampered = redirect.headers["Location"].replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_a_hidden_comments_images_are_served_to_moderators_only(media_client):
    created = post_with_images(media_client, pictures.still("PNG", colour=(1, 2, 3))).json
    key = created["images"][0]["url"].rsplit("/", 1)[1]
    assert media_client.get(f"/media/{key}").status_code == 302
    decided = media_client.patch(f"/admin/comments/{created['id']}", json={"status": "rejected"}, headers=ADMIN)
    assert decided.json["images"][0]["url"] == f"http://localhost:5000/admin/media/{key}"
    hidden = media_client.get(f"/media/{key}")
    unknown = media_client.get("/media/" + "a" * 64 + ".png")
    assert hidden.status_code == 404 and hidden.json == unknown.json
    for wrong in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {created['edit_token']}"}):
        refused = media_client.get(f"/admin/media/{key}", headers=wrong)
        assert (refused.status_code, refused.json["code"]) == (401, "invalid_token")
    (listed,) = media_client.get("/admin/comments?status=rejected", headers=ADMIN).json["comments"]
    assert listed["images"][0]["url"] == f"http://localhost:5000/admin/media/{key}"
    for_moderator = media_client.get(f"/admin/media/{key}", headers=ADMIN)
    assert for_moderator.headers["Cache-Control"] == "private, no-store"
    assert requests.get(for_moderator.headers["Location"], timeout=10).status_code == 200
    media_client.patch(f"/admin/comments/{created['id']}", json={"status": "published"}, headers=ADMIN)
    assert media_client.get(f"/media/{key}").status_code == 302


def test_an_image_a_published_comment_also_shows_stays_served(media_client):
    picture = pictures.still("JPEG", colour=(9, 8, 7))
    hidden, shown = (post_with_images(media_client, picture, comment=words).json for words in ("one", "two"))
    media_client.patch(f"/admin/comments/{hidden['id']}", json={"status": "rejected"}, headers=ADMIN)
    assert media_client.get(shown["images"][0]["url"].split("localhost:5000", 1)[1]).status_code == 302
    assert media_client.get("/admin/media/" + "b" * 64 + ".gif", headers=ADMIN).status_code == 404


def test_media_public_url_makes_image_urls_point_there(clean_database, media_environment):
    from app import create_app
    from tests.conftest import settings_for

    settings = settings_for(clean_database, **media_environment, MEDIA_PUBLIC_URL="https://cdn.example.com/media")
    client = create_app(settings).test_client()
    (image,) = post_with_images(client, pictures.still("GIF")).json["images"]
    key = image["url"].rsplit("/", 1)[1]
    assert image["url"] == f"https://cdn.example.com/media/{key}"
    assert client.get(f"/media/{key}").headers["Location"] == image["url"]


def test_wrong_store_credentials_are_refused_by_the_store(clean_database, media_environment):
    from app import create_app
    from tests.conftest import settings_for

    wrong = {**media_environment, "AWS_SECRET_ACCESS_KEY": "not-the-secret-" + "x" * 20}
    client = create_app(settings_for(clean_database, **wrong)).test_client()
    response = post_with_images(client, pictures.still("PNG"))
    assert response.status_code == 503 and response.json["code"] == "storage_unavailable"
    assert table_counts(clean_database)[0] == 0


def test_deleting_a_comment_deletes_its_images_once_no_comment_uses_them(media_client, media_environment):
    shared, own = pictures.still("PNG", colour=(5, 5, 5)), pictures.still("JPEG", colour=(7, 7, 7))
    first = post_with_images(media_client, shared, own, comment="first").json
    second = post_with_images(media_client, shared, comment="second").json
    shared_key = first["images"][0]["url"].rsplit("/", 1)[1]
    bearer = {"Authorization": f"Bearer {first['edit_token']}"}
    assert media_client.delete(f"/comments/{first['id']}", headers=bearer).status_code == 204
    assert stored_keys(media_environment) == {shared_key}  # the second comment still shows it
    assert media_client.delete(f"/admin/comments/{second['id']}", headers=ADMIN).status_code == 204
    assert stored_keys(media_environment) == set()
    assert media_client.get(f"/media/{shared_key}").status_code == 404


def test_a_tombstone_keeps_no_images(media_client, media_environment):
    parent = post_with_images(media_client, pictures.still("PNG"), thread="t").json
    media_client.post("/comments", json={"thread": "t", "name": "B", "comment": "reply", "parent_id": parent["id"]})
    assert media_client.delete(f"/admin/comments/{parent['id']}", headers=ADMIN).status_code == 204
    tombstone = media_client.get(f"/comments/{parent['id']}").json
    assert tombstone["status"] == "deleted" and tombstone["images"] == []
    assert stored_keys(media_environment) == set()


def test_webhook_events_carry_the_images(media_client, clean_database):
    created = post_with_images(media_client, pictures.still("WEBP")).json
    with psycopg2.connect(clean_database) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT comment FROM outbox WHERE type = 'comment.created'")
        (event,) = cursor.fetchone()
    conn.close()
    assert event["images"] == created["images"]


def test_a_client_over_the_rate_limit_gets_429_before_its_images_are_stored(clean_database, media_environment):
    from app import create_app
    from tests.conftest import settings_for

    client = create_app(settings_for(clean_database, **media_environment, RATE_LIMIT_POSTS="1/minute")).test_client()
    assert client.post("/comments", json={"name": "A", "comment": "text first"}).status_code == 201
    refused = post_with_images(client, pictures.still("PNG"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert stored_keys(media_environment) == set()
    assert table_counts(clean_database) == (1, 0, 0)
