"""WordPress's export (WXR 1.0, 1.1 and 1.2): <item> per post, <wp:comment> per comment.

A comment's thread is its post's <link>; its time is comment_date_gmt (comment_date, the site's
local time taken as UTC, when WordPress left the GMT one empty, as it does for some pending
comments). Pingbacks and trackbacks are notices from other sites, not comments: skipped and
counted. WordPress keeps comments as typed, with a few inline tags: they become plain text.
"""

from collections.abc import Iterator

from transfer import safe_xml
from transfer.html_text import html_to_text
from transfer.sources import ImportRefused, Options, Record, parse_time, pseudonym, thread_key

WXR = "{http://wordpress.org/export/"
STATUSES = {"1": "published", "approve": "published", "0": "pending", "hold": "pending", "spam": "rejected",
            "trash": "rejected", "post-trashed": "rejected"}  # fmt: skip
NOT_COMMENTS = {"pingback": "pingbacks and trackbacks", "trackback": "pingbacks and trackbacks"}
EMPTY_DATE = "0000-00-00 00:00:00"


def read(stream, options: Options) -> Iterator[Record]:
    channel = item = None
    depth, found_wxr = 0, False
    for event, element in safe_xml.events(stream):
        if event == "start":
            depth += 1
            if element.tag == "channel" and depth == 2:
                channel = element
            elif element.tag == "item" and depth == 3:
                item = element
            continue
        depth -= 1
        tag = element.tag
        if depth == 3 and item is not None and _is_wxr(tag, "comment"):
            found_wxr = True
            if (record := _comment(element, item, options)) is not None:
                yield record
            item.remove(element)
        elif depth == 2 and tag == "item" and channel is not None:
            channel.remove(element)
            item = None
        elif depth == 2 and channel is not None and options.site is None and _is_wxr(tag, "base_blog_url"):
            options.site = (element.text or "").strip() or None
    if not found_wxr and channel is None:
        raise ImportRefused("the file is not a WordPress export (no <channel>)")


def _comment(element, item, options: Options) -> Record | None:
    fields = {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in element}
    kind = fields.get("comment_type", "")
    if kind in NOT_COMMENTS:
        options.skipped[NOT_COMMENTS[kind]] += 1
        return None
    record = Record(
        source_id=fields.get("comment_id", ""),
        created_at=None,
        status=STATUSES.get(fields.get("comment_approved", "1"), "pending"),
        thread=_thread(item, options),
        parent_ref=fields.get("comment_parent", "0").lstrip("0") or None,
        name=fields.get("comment_author"),
        email=fields.get("comment_author_email"),
        comment=html_to_text(fields.get("comment_content", "")),
        client=pseudonym(options, fields.get("comment_author_IP")),
    )
    if not record.source_id:
        record.source_id, record.problem = "(no id)", "it has no comment_id"
    gmt = fields.get("comment_date_gmt", "")
    try:
        record.created_at = parse_time(fields.get("comment_date") if gmt in ("", EMPTY_DATE) else gmt, "comment_date")
    except ValueError as error:
        record.problem = record.problem or str(error)
    return record


def _thread(item, options: Options) -> str:
    link = item.findtext("link") or ""
    if link.strip():
        return thread_key(link, options.thread_key)
    post_id = next((child.text for child in item if _is_wxr(child.tag, "post_id")), "") or ""
    return f"/?p={post_id.strip()}"  # WordPress's own permalink without pretty URLs


def _is_wxr(tag: str, name: str) -> bool:
    return tag.startswith(WXR) and tag.endswith("}" + name)
