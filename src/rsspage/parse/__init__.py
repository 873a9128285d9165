"""Feed parsing: response bytes + headers → ParsedFeed (RSS 0.9x/1.0/2.0, Atom, JSON Feed).

No I/O happens here. The path a document takes, and why:

1. ``sniff``: the first characters, decoded as its BOM or first bytes show (``encoding``). A
   ``{`` (or a JSON type without a ``<``) is **JSON Feed** (``json_feed``), read by hand. An
   HTML page, told by its root element, is refused: there is no feed to find in it.
2. ``encoding.to_utf8``: the document's encoding is decided once, by the precedence written in
   ``encoding`` (BOM > HTTP charset > XML declaration > UTF-8 > detection), and the document is
   handed on as UTF-8 declaring so, so that both parsers below read the same text. UTF-8 is
   taken on trust at first (libxml2 checks it as it reads); if the fast path fails, the
   encoding is decided again with the bytes checked, and the fast path tried on that.
3. ``repairs``: bare ``&`` escaped (feedparser would read "&copy=2" as "©=2"), a declaration
   line that would cost feedparser cubic time split, C1 controls (``&#146;``) made the
   windows-1252 characters they stand for.
4. **Fast path** (``xml_fast``, ``entries``; parser ``lxml-rss`` / ``lxml-atom``) for
   well-formed RSS 2.0, RSS 1.0 and Atom 1.0: lxml reads it as feedparser's strict parser
   would, ~40× faster, and gives up on anything it does not reproduce exactly.
5. **feedparser** (``fallback``) for everything else: the robust reference.
6. ``text``: every path's text fields get the same repairs (windows-1252 for C1 controls, no
   control characters, double-encoded UTF-8 undone); on the fast path only when the bytes show
   that some may be needed.

Dates are read by ``dates.parse_date`` on every path. Hostile documents stay cheap: entities are
never expanded nor loaded, elements nested deeper than 2,048 are a ParseError, and every pattern
that looks at a whole document runs in linear time (tests/test_hostile_feeds.py and the "hostile
input" tests of tests/test_parse.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ParseError
from ..types import ParsedFeed
from .dates import parse_date
from .encoding import head_text, to_utf8
from .fallback import MAX_XML_DEPTH, nested_too_deep, parse_with_feedparser
from .json_feed import parse_json_feed
from .repairs import c1_as_windows_1252, declaration_on_its_own_line, escape_bare_ampersands
from .sniff import is_html_page, is_json_type
from .text import repair_feed, repairs_for
from .xml_fast import parse_fast

__all__ = ["parse_date", "parse_feed"]


def parse_feed(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse one response body; ``headers`` have lower-case names, ``url`` is the feed's URL.

    Raises ParseError when the bytes hold no feed.
    """
    head = head_text(content)
    if not head:
        raise ParseError("empty response")
    if head[0] == "{" or (is_json_type(headers) and head[0] != "<"):
        return repair_feed(parse_json_feed(content, url))
    if is_html_page(head, headers):
        raise ParseError("not a feed: looks like an HTML page")
    # libxml2 checks UTF-8 as it reads (as Python would, ~100 µs for 70 kB): only when the fast
    # path fails is the encoding decided again with the bytes checked, and the fast path tried
    # once more on what that gives.
    document, utf8_headers = _prepared(content, headers, trust_utf8=True)
    parsed = parse_fast(document, utf8_headers, url)
    if parsed is None:  # not UTF-8 after all (undeclared KOI8-R, say) or not for the fast path
        checked, utf8_headers = _prepared(content, headers, trust_utf8=False)
        if checked != document:
            document, parsed = checked, parse_fast(checked, utf8_headers, url)
    if parsed is not None:
        repairs = repairs_for(document)
        return parsed if repairs is None else repair_feed(parsed, repairs)
    if nested_too_deep(document):
        raise ParseError(f"not a feed: elements nested more than {MAX_XML_DEPTH} levels deep")
    return repair_feed(parse_with_feedparser(document, utf8_headers, url))


def _prepared(content: bytes, headers: Mapping[str, str], *,
              trust_utf8: bool) -> tuple[bytes, dict[str, str]]:
    """The document in UTF-8 with the repairs every parser needs, and headers that agree."""
    document, utf8_headers, _ = to_utf8(content, headers, trust_utf8=trust_utf8)
    document = declaration_on_its_own_line(document)
    return c1_as_windows_1252(escape_bare_ampersands(document)), utf8_headers
