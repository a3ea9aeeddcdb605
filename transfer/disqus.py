"""Disqus's XML export: <category>, <thread> and <post> elements under <disqus>.

A post names its thread and its parent by their dsq:id attributes. Threads are listed apart
(ThreadLink), so a post's thread is found after the whole file is read. A post without a
dsq:id uses its <id>, as Disqus's own importers do.
"""

from collections.abc import Iterator

from transfer import safe_xml
from transfer.html_text import html_to_text
from transfer.sources import ImportRefused, Options, Record, ThreadLink, parse_time, pseudonym, thread_key

NS = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"
TOP_LEVEL = {f"{NS}thread", f"{NS}post", f"{NS}category"}


def read(stream, options: Options) -> Iterator[Record | ThreadLink]:
    root, depth = None, 0
    for event, element in safe_xml.events(stream):
        if event == "start":
            depth += 1
            root = root if root is not None else element
            continue
        depth -= 1
        if depth != 1 or element.tag not in TOP_LEVEL:
            continue
        if options.site is None:
            options.site = _text(element, "forum") or None
        if element.tag == f"{NS}post":
            yield _post(element, options)
        elif element.tag == f"{NS}thread":
            yield _thread(element, options)
        root.clear()  # what was read is done with: memory stays flat
    if root is None or root.tag != f"{NS}disqus":
        raise ImportRefused("the file is not a Disqus export (no <disqus> element)")


def _thread(element, options: Options) -> ThreadLink:
    ref = element.get(DSQ_ID) or ""
    link, identifier = _text(element, "link"), _text(element, "id")
    if link:
        return ThreadLink(ref, thread_key(link, options.thread_key))
    if identifier:
        return ThreadLink(ref, identifier)
    return ThreadLink(ref, None, "its thread has neither a link nor an id")


def _post(element, options: Options) -> Record:
    fields, refs = _fields(element)
    source_id = element.get(DSQ_ID) or fields.get("id", "")
    record = Record(
        source_id=source_id,
        created_at=None,
        status=_status(fields),
        thread_ref=refs.get("thread", ""),
        parent_ref=refs.get("parent"),
        name=fields.get("name"),
        email=fields.get("email"),
        comment=html_to_text(fields.get("message", "")),
        client=pseudonym(options, fields.get("ipAddress")),
    )
    if not source_id:
        record.source_id, record.problem = "(no id)", "it has no dsq:id and no <id>"
    try:
        record.created_at = parse_time(fields.get("createdAt"), "createdAt")
    except ValueError as error:
        record.problem = record.problem or str(error)
    return record


def _fields(element) -> tuple[dict[str, str], dict[str, str]]:
    """A post's fields in one pass (its author's name and e-mail among them), and the
    dsq:ids of its thread and parent."""
    fields, refs = {}, {}
    for child in element:
        name = child.tag.removeprefix(NS)
        if name in ("thread", "parent"):
            refs[name] = child.get(DSQ_ID)
        elif name == "author":
            fields.update((part.tag.removeprefix(NS), (part.text or "").strip()) for part in child)
        else:
            fields[name] = (child.text or "").strip()
    return fields, refs


def _status(fields: dict[str, str]) -> str:
    if fields.get("isDeleted") == "true":
        return "deleted"
    if fields.get("isSpam") == "true":
        return "rejected"
    if fields.get("isApproved") == "false":
        return "pending"
    return "published"


def _text(element, *names: str) -> str:
    found = element.find("/".join(NS + name for name in names))
    return (found.text or "").strip() if found is not None else ""
