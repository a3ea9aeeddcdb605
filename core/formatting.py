"""What a comment's words look like: a Markdown subset rendered once, when they are written.

Paragraphs, line breaks, emphasis, strong, inline code, code blocks, block quotes, lists and
links (http, https and mailto only). No raw HTML, no images, no headings, no rules: those are
shown as the characters that were typed. Bare URLs become links by the one rule the widget and
the spam check share (widget/src/links.js, core/spam.py).

markdown-it-py renders (CommonMark, raw HTML off); nh3 then keeps only the allow-list below, so
a mistake in either one alone cannot put markup a reader's browser would run into `html`. The
result is stored beside the text at every write (post, edit, import) and read as it is.
"""

import html
import re

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.spam import LINK

TAGS = frozenset(("p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a"))
ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
SCHEMES = frozenset(("http", "https", "mailto"))
LINK_REL = "nofollow ugc noopener"
# What ends a sentence rather than a URL (the widget's TRAILING_PUNCTUATION, dom.js).
TRAILING_PUNCTUATION = re.compile(r"[.,;:!?)\]}]+$")
SWITCHED_OFF = ["heading", "lheading", "hr", "image", "html_block", "html_inline"]
# Words that no Markdown rule touches: one line that starts with a letter (no list, quote or
# code block can begin), with no character any inline rule or the HTML escaper acts on, and no
# U+00A0 (which the cleaner writes as &nbsp;). Such a comment renders to itself in a paragraph;
# most comments are like that, and markdown-it-py and nh3 cost about 8% of a post's CPU on the
# service (tests/test_formatting.py holds the two paths equal).
UNTOUCHED = re.compile(r"[^\W\d_](?:[^\W_]|[ .,;:'\"?!()/%$@+=-])*")


def _bare_links(state) -> None:
    """Core rule: the bare URLs in plain text (not in a link or code) become links."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children, inside_link = [], 0
        for token in block.children:
            inside_link += {"link_open": 1, "link_close": -1}.get(token.type, 0)
            if token.type == "text" and not inside_link and LINK.search(token.content):
                children.extend(_linked(token.content))
            else:
                children.append(token)
        block.children = children


def _linked(text: str) -> list[Token]:
    tokens, last = [], 0
    for match in LINK.finditer(text):
        url = TRAILING_PUNCTUATION.sub("", match.group())
        tokens.append(_text(text[last : match.start()]))
        opening = Token("link_open", "a", 1, attrs={"href": url})
        tokens += [opening, _text(url), Token("link_close", "a", -1)]
        last = match.start() + len(url)
    tokens.append(_text(text[last:]))
    return [token for token in tokens if token.type != "text" or token.content]


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _markdown() -> MarkdownIt:
    # breaks: a single newline is a line break, as people who type in a comment box expect.
    markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(SWITCHED_OFF)
    markdown.core.ruler.push("bare_links", _bare_links)
    return markdown


MARKDOWN = _markdown()
CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    # "*": no attribute on every tag (ammonia would otherwise keep lang and title anywhere).
    attributes={"*": set(), **{tag: set(names) for tag, names in ATTRIBUTES.items()}},
    url_schemes=set(SCHEMES),
    url_relative="deny",  # a relative link would point into whichever site embeds the thread
    link_rel=LINK_REL,
)


def render(text: str) -> str:
    """The comment's words as the HTML readers are shown (an allow-listed fragment)."""
    if is_untouched(text):
        return f"<p>{text}</p>"
    return render_markdown(text)


def is_untouched(text: str) -> bool:
    return UNTOUCHED.fullmatch(text) is not None and not text.endswith(" ") and not LINK.search(text)


def render_markdown(text: str) -> str:
    """render() without its shortcut: markdown-it-py, then the allow-list."""
    shown = CLEANER.clean(MARKDOWN.render(text)).strip()
    if not shown:  # only a link definition, say: nothing visible, so show what was typed
        return f"<p>{html.escape(text, quote=False)}</p>"
    return shown
