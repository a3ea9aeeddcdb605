"""Which status a new or edited comment gets: the spam rules, with no external service.

- The hidden `website` field (a honeypot the widget hides from people) was filled in: stored as
  `rejected`, and answered exactly like a pending comment, so a bot learns nothing.
- More than MAX_LINKS links (http and https URLs, as the widget shows them): held as `pending`
  for a moderator, even with MODERATION=off.
- MODERATION=pre: every new comment (and every edit of a published one) waits as `pending`.

The duplicate rule (same text, same client, same thread, within DUPLICATE_WINDOW) needs the
database and is part of the insert statement in db.py.
"""

import json
import re
from pathlib import Path

# The widget's own rule (widget/src/links.js), read from there: one pattern for the links the
# server counts and the links readers are shown.
LINKS_JS = Path(__file__).resolve().parent.parent / "widget" / "src" / "links.js"


def _shared_link_pattern() -> re.Pattern:
    source = re.search(r"LINK_SOURCE =\s*(\"(?:[^\"\\]|\\.)*\")", LINKS_JS.read_text())
    return re.compile(json.loads(source.group(1)))


LINK = _shared_link_pattern()
DUPLICATE_WINDOW = "10 minutes"


def link_count(text: str) -> int:
    return len(LINK.findall(text))


def held_by_new(*, honeypot: bool, text: str, moderation: str, max_links: int) -> str | None:
    """The rule that holds a new comment back: honeypot, moderation or links; None if none."""
    if honeypot:
        return "honeypot"
    if moderation == "pre":
        return "moderation"
    if link_count(text) > max_links:
        return "links"
    return None


def status_for_new(held_by: str | None) -> str:
    """A honeypot catch is rejected outright; a comment held by another rule waits."""
    return {None: "published", "honeypot": "rejected"}.get(held_by, "pending")


def held_by_edit(current: str, *, text: str | None, moderation: str, max_links: int) -> str | None:
    """The rule that sends a published comment back to the moderation queue after an edit."""
    if current != "published":
        return None
    if moderation == "pre":
        return "moderation"
    if text is not None and link_count(text) > max_links:
        return "links"
    return None


def status_after_edit(current: str, held_by: str | None) -> str:
    return "pending" if held_by else current


def status_shown_to_author(status: str) -> str:
    return "pending" if status == "rejected" else status
