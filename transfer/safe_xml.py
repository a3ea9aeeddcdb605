"""XML read as a stream of (event, element), with every DTD refused.

Exports from Disqus and WordPress never declare a DTD. Entity declarations are what "billion
laughs" (exponential expansion) and XXE (an entity that reads a local file or a URL) are made
of, so a file with a <!DOCTYPE> is refused before anything is expanded: a guard parser sees the
prolog first and stops at the root element, where a DTD can no longer appear. The elements come
from ElementTree's C parser, which also resolves no external entity.
"""

from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError, XMLPullParser
from xml.parsers import expat

from transfer.sources import ImportRefused

CHUNK = 1 << 16


def events(stream, wanted=("start", "end")) -> Iterator[tuple[str, Element]]:
    guard = _Guard()
    parser = XMLPullParser(events=wanted)
    try:
        while chunk := stream.read(CHUNK):
            guard.check(chunk)
            parser.feed(chunk)
            yield from parser.read_events()
        parser.close()
        yield from parser.read_events()
    except (ParseError, expat.ExpatError) as error:
        line, column = getattr(error, "position", None) or (error.lineno, error.offset)
        reason = str(error).split(":")[0]
        raise ImportRefused(f"the XML is malformed at line {line}, column {column + 1}: {reason}") from None


class _Guard:
    """Watches the prolog (everything before the root element) for a DTD."""

    def __init__(self):
        self.done = False
        self.parser = expat.ParserCreate()
        self.parser.StartDoctypeDeclHandler = self._refuse
        self.parser.EntityDeclHandler = self._refuse
        self.parser.StartElementHandler = self._root

    def check(self, chunk: bytes) -> None:
        if not self.done:
            self.parser.Parse(chunk, False)

    def _refuse(self, *_):
        raise ImportRefused(
            "the XML declares a DTD (<!DOCTYPE>): exports never do, and its entities could expand"
            " without bound or read files, so it is refused"
        )

    def _root(self, *_):
        self.done = True
