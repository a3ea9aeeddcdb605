"""This service's own export (transfer/export.py): a header line, then one comment per line.

Threads are kept exactly as they were (they are already this service's keys), and so are ids
when they are free: restoring a backup into an empty database gives every comment its old id,
so links to /comments/{id} keep working. An id already taken by another comment is replaced by
a new one, and a reply follows its parent's new id (the import maps source ids, not positions).
E-mail addresses, reply subscriptions and client pseudonyms come back when the export had them
(--private): a restored subscription is the reader's own choice, made on this service.
"""

from collections.abc import Iterator

from comment import MAX_BIGINT, STATUSES
from transfer.export import FORMAT, IMAGE_FIELDS, VERSION
from transfer.sources import ImportRefused, Options, Record, json_lines, parse_time


def read(stream, options: Options) -> Iterator[Record]:
    for number, value in json_lines(stream):
        if number == 1:
            _check_header(value)
            continue
        yield _record(value)


def _check_header(header: dict) -> None:
    if header.get("format") != FORMAT:
        raise ImportRefused(f"the first line does not name the {FORMAT} format")
    if header.get("version") != VERSION:
        raise ImportRefused(
            f"this export is of version {header.get('version')!r}; this service reads version {VERSION}"
        )


def _record(value: dict) -> Record:
    comment_id, parent_id, status = value.get("id"), value.get("parent_id"), value.get("status")
    record = Record(
        source_id=str(comment_id),
        created_at=None,
        status=status if status in STATUSES else "pending",
        thread=value.get("thread") if isinstance(value.get("thread"), str) else "",
        parent_ref=str(parent_id) if parent_id is not None else None,
        name=value.get("name"),
        email=value.get("email"),
        comment=value.get("comment") if isinstance(value.get("comment"), str) else "",
        client=value.get("client") if isinstance(value.get("client"), str) else None,
        notify_replies=value.get("notify_replies") is True,
        images=_images(value.get("images")),
        keep_id=comment_id if type(comment_id) is int and 1 <= comment_id <= MAX_BIGINT else None,
    )
    if record.keep_id is None:
        record.problem = "its id is not a positive integer"
    if status not in STATUSES:
        record.problem = record.problem or f"its status {status!r} is not one of {', '.join(STATUSES)}"
    try:
        record.created_at = parse_time(value.get("created_at"), "created_at")
        edited = value.get("edited_at")
        record.edited_at = parse_time(edited, "edited_at") if edited is not None else None
    except ValueError as error:
        record.problem = record.problem or str(error)
    return record


def _images(images) -> list[dict]:
    if not isinstance(images, list):
        return []
    return [
        {field: image.get(field) for field in IMAGE_FIELDS}
        for image in images
        if isinstance(image, dict) and isinstance(image.get("key"), str)
    ]
