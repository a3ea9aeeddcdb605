"""Commento's (and Commento++'s) JSON export: one object with `comments` and `commenters`.

A top-level comment's parentHex is "root"; `state` is approved, unapproved (waiting for
moderation) or flagged (spam); `deleted` marks a deleted one. Comments keep `markdown`, what
their author typed: imported as it is.
"""

from collections.abc import Iterator

import orjson

from transfer.sources import ImportRefused, Options, Record, parse_time, thread_key

STATES = {"approved": "published", "unapproved": "pending", "flagged": "rejected"}
ROOT = "root"


def read(stream, options: Options) -> Iterator[Record]:
    try:
        export = orjson.loads(stream.read())
    except orjson.JSONDecodeError as error:
        raise ImportRefused(f"the JSON is malformed: {error}") from None
    if not isinstance(export, dict) or not isinstance(export.get("comments"), list):
        raise ImportRefused("the file is not a Commento export (no comments list)")
    people = {
        person.get("commenterHex"): person for person in export.get("commenters") or [] if isinstance(person, dict)
    }
    for comment in export["comments"]:
        if isinstance(comment, dict):
            yield _record(comment, people.get(comment.get("commenterHex")) or {}, options)


def _record(comment: dict, person: dict, options: Options) -> Record:
    domain, path = str(comment.get("domain") or ""), str(comment.get("url") or "")
    options.site = options.site or domain or None
    parent = comment.get("parentHex")
    record = Record(
        source_id=str(comment.get("commentHex") or ""),
        created_at=None,
        status="deleted" if comment.get("deleted") else STATES.get(comment.get("state"), "pending"),
        thread=thread_key(f"https://{domain}{path}" if options.thread_key == "url" else path, options.thread_key),
        parent_ref=parent if isinstance(parent, str) and parent not in ("", ROOT) else None,
        name=person.get("name"),
        email=person.get("email"),
        comment=str(comment.get("markdown") or ""),
    )
    if not record.source_id:
        record.source_id, record.problem = "(no id)", "it has no commentHex"
    try:
        record.created_at = parse_time(comment.get("creationDate"), "creationDate")
    except (TypeError, ValueError) as error:
        record.problem = record.problem or str(error)
    return record
