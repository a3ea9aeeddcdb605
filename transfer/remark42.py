"""Remark42's backup: one JSON object per line, plain or gzipped. The first line is metadata
(version, users, posts); each other line is a comment.

A comment keeps `orig`, what its author typed (Markdown), beside `text`, its HTML: the typed
words are imported, or the HTML as plain text when there is no `orig`. Remark42 has no
moderation queue: comments are published, or deleted.
"""

from collections.abc import Iterator

from transfer.html_text import html_to_text
from transfer.sources import ImportRefused, Options, Record, json_lines, parse_time, thread_key


def read(stream, options: Options) -> Iterator[Record]:
    for number, value in json_lines(stream):
        if number == 1 and "locator" not in value:
            _check_metadata(value)
            continue
        yield _record(value, options)


def _check_metadata(meta: dict) -> None:
    if meta.get("version", 0) not in (0, 1):
        raise ImportRefused(f"this is a Remark42 backup of version {meta.get('version')!r}; versions 0 and 1 are known")


def _record(value: dict, options: Options) -> Record:
    locator, user, edit = (
        value.get(key) if isinstance(value.get(key), dict) else {} for key in ("locator", "user", "edit")
    )
    options.site = options.site or locator.get("site")
    typed = value.get("orig")
    record = Record(
        source_id=str(value.get("id") or ""),
        created_at=None,
        status="deleted" if value.get("delete") else "published",
        thread=thread_key(str(locator.get("url") or ""), options.thread_key),
        parent_ref=str(value.get("pid") or "") or None,
        name=user.get("name"),
        comment=typed if isinstance(typed, str) and typed.strip() else html_to_text(str(value.get("text") or "")),
    )
    if not record.source_id:
        record.source_id, record.problem = "(no id)", "it has no id"
    try:
        record.created_at = parse_time(value.get("time"), "time")
        record.edited_at = parse_time(edit["time"], "edit time") if edit.get("time") else None
    except (TypeError, ValueError) as error:
        record.problem = record.problem or str(error)
    return record
