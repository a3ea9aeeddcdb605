"""HTML from another service's comments (Disqus, WordPress, Remark42) as this service's plain text.

Paragraphs and line breaks become newlines, entities are decoded, a link keeps its URL (http,
https or mailto; others keep only their words), and everything else (tags, scripts, styles,
comments) is dropped. The result is text, never markup: readers see it as written.

One regular expression walks the tags (comment HTML is small and flat; html.parser, which
handles every corner of the language, made a million-comment import spend most of its time
here). A quoted attribute may hold ">"; a "<" that starts no tag stays as text.
"""

import re
from html import unescape

TAG = re.compile(
    r"""<(?:!--.*?(?:-->|$)|[!?][^>]*>|(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>"']|"[^"]*"|'[^']*')*)>)""",
    re.DOTALL,
)
HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
BEFORE = {"br": "\n", "p": "\n\n", "div": "\n", "li": "\n", "blockquote": "\n\n", "pre": "\n\n", "tr": "\n"}
AFTER = {"p": "\n\n", "blockquote": "\n\n", "pre": "\n\n", "div": "\n", "li": "\n"}
HIDDEN = frozenset(("script", "style", "template", "head", "title"))
LINK_SCHEMES = ("http://", "https://", "mailto:")
RUNS_OF_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
TRAILING_SPACE = re.compile(r"[ \t]+\n")


def html_to_text(html: str) -> str:
    if "<" not in html and "&" not in html:
        return html.strip()
    pieces: list[str] = []
    links: list[tuple[str | None, int]] = []  # (href, where its words start) per open <a>
    hidden, at = 0, 0
    for tag in TAG.finditer(html):
        if not hidden and tag.start() > at:
            pieces.append(_text(html[at : tag.start()]))
        at = tag.end()
        closing, name = tag.group(1), (tag.group(2) or "").lower()
        if name in HIDDEN:
            hidden = max(0, hidden - 1) if closing else hidden + 1
        elif hidden or not name:
            continue
        elif name == "a":
            _link_tag(closing, tag.group(3), pieces, links)
        elif closing:
            pieces.append(AFTER.get(name, ""))
        else:
            pieces.append(BEFORE.get(name, ""))
    if not hidden:
        pieces.append(_text(html[at:]))
    text = TRAILING_SPACE.sub("\n", "".join(pieces))
    return RUNS_OF_BLANK_LINES.sub("\n\n", text).strip()


def _text(segment: str) -> str:
    return unescape(segment) if "&" in segment else segment


def _link_tag(closing: str, attributes: str, pieces: list[str], links: list) -> None:
    if not closing:
        found = HREF.search(attributes)
        href = unescape(next(filter(None, found.groups()), "")).strip() if found else ""
        links.append((href if href.lower().startswith(LINK_SCHEMES) else None, len(pieces)))
    elif links:
        href, start = links.pop()
        if href:
            pieces[start:] = [_link("".join(pieces[start:]).strip(), href)]


def _link(words: str, href: str) -> str:
    """A link's words and URL as text: the URL alone when the words only repeat it, whole or
    shortened (Disqus shortens long links to "https://example.org/a/very/...")."""
    address = href.removeprefix("mailto:")
    spellings = {href, address, href.rstrip("/"), href.split("://", 1)[-1], href.split("://", 1)[-1].rstrip("/")}
    shortened = words.endswith(("...", "…")) and len(start := words.rstrip(".…")) >= 4
    if not words or words in spellings or (shortened and any(form.startswith(start) for form in spellings)):
        return address
    return f"{words} ({href})"
