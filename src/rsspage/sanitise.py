"""Allowlist HTML sanitising (nh3 / Rust ammonia), picture rewriting and HTML → text.

No business logic: this module knows HTML, not feeds. ``sanitise_html`` is called once per
article, in normalise; everything published afterwards is its output.

What survives: ordinary article markup (paragraphs, headings, lists, tables, figures, code,
quotes, links, pictures, video/audio with sources). What never does: scripts, event handlers,
``style``, frames, objects, forms, ``<base>``/``<meta>``, SVG/MathML, and URLs other than http(s)
and mailto (``data:image/…`` pictures excepted, in ``<img src>`` only). Relative URLs are resolved
against the base URL by ammonia itself (and dropped when there is none), every ``<img>`` gets
``referrerpolicy="no-referrer"`` and ``loading="lazy"``, and lazy-loading attributes
(``data-src`` …) become ``src``. The output is the same in every process, so hashes of it are
stable from run to run. Markup nested deeper than 256 elements loses the tags beyond that depth
(their text stays): the HTML parser's time grows with the square of the depth.

``html_to_text`` reads any HTML; ``sanitised_html_to_text`` is its fast twin for the output of
``sanitise_html``.
"""

from __future__ import annotations

import html as htmllib
import re
from functools import lru_cache
from itertools import accumulate

import nh3

_TAGS = frozenset(
    {
        "a", "abbr", "article", "audio", "b", "blockquote", "br", "caption", "cite", "code",
        "col", "colgroup", "dd", "del", "details", "div", "dl", "dt", "em", "figcaption",
        "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "mark", "ol", "p", "picture", "pre", "q", "rp", "rt", "ruby", "s", "samp", "section",
        "small", "source", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "video",
    }
)  # fmt: skip

# srcset is left out on purpose: ammonia neither vets nor resolves it, and <img src> suffices.
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "audio": {"src"},
    "col": {"span"},
    "colgroup": {"span"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "source": {"src", "type"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "time": {"datetime"},
    "video": {"src", "poster", "width", "height"},
}

# Dropped together with their content: their text is code, styling or fallback markup (noscript
# would otherwise come out as escaped tags), never article prose.
_DROP_WITH_CONTENT = frozenset(
    {
        "script", "style", "noscript", "template", "iframe", "object", "embed", "frameset",
        "noembed", "noframes", "title", "textarea", "select", "form", "svg", "math", "head",
    }
)  # fmt: skip

_MAX_DEPTH = 256  # libxml2's default limit for XML, far beyond any real article
_DEPTH_CHECK_ABOVE = 4096  # tags; nesting this deep costs html5ever ~50 ms at worst
# "[^<>]": a tag never runs into the next "<", so a run of "<a<a<a…" costs linear time.
_START_OR_END_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^<>]*>")
_NON_VOID_TAG_MARK = re.compile(
    r"<(/?)(?!(?:area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr)\b)[a-zA-Z]",
    re.IGNORECASE,
)
_VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
# Elements whose start tag closes an open element of the same name right before it.
_SIBLING_CLOSERS = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th"})

_IMG_WITH_ATTRS = '<img referrerpolicy="no-referrer" loading="lazy"'
_IMG_START = re.compile(r"<img(?=[ >])")  # in ammonia's output: lower case, one space
#: A feed's own players get controls (a player without them cannot be started: autoplay is
#: not allowed) and load nothing until played, like the enclosures' players.
_MEDIA_START = re.compile(r"<(audio|video)(?=[ >])")
_MEDIA_WITH_ATTRS = r'<\1 controls preload="none"'
_LINK_REL = "noopener noreferrer nofollow"
_SCHEMES = frozenset({"http", "https", "mailto"})

# Tags that separate words in text: replaced by a space in html_to_text, all others vanish.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_TEXT_CLEANER = nh3.Cleaner(
    tags=set(_BLOCK_TAGS), clean_content_tags=set(_DROP_WITH_CONTENT), attributes={},
    link_rel=None,
)  # fmt: skip
# Ammonia's output escapes "<" and ">" inside attribute values, so a plain pattern finds tags.
_ANY_TAG = re.compile(r"<[^>]*>")
#: html5ever drops an element named <root> with all it holds (an unclosed one takes the rest
#: of the article); under another name it is unwrapped like any unknown tag.
_ROOT_TAG = re.compile(r"<(/?)([rR][oO][oO][tT])(?=[\s/>])")


def _alternation(words: list[str]) -> str:
    """A regex alternation of words factored by leading letter: the engine then tries only the
    branch that matches, not every word in turn (3× faster here)."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in sorted(groups.items()):
        longer = [rest for rest in rests if rest]
        if len(rests) == 1:  # a single word: no group needed
            parts.append(re.escape(first + rests[0]))
            continue
        optional = "?" if len(longer) < len(rests) else ""
        parts.append(f"{re.escape(first)}(?:{_alternation(longer)}){optional}")
    return "|".join(parts)


# The allowed tags that are not block tags: removing these first and then turning every other
# tag into a space does the same as the reverse, and is faster because fewer tags match.
_INLINE_TAG = re.compile(rf"</?(?:{_alternation(sorted(_TAGS - _BLOCK_TAGS))})\b[^>]*>")
_FIRST_IMG_SRC = re.compile(r'<img\s[^>]*?\bsrc="([^"]*)"')

_SAFE_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpe?g|webp|avif|bmp)[;,]", re.IGNORECASE)
_URL_NOISE = re.compile(r"[\x00-\x20]+")

# Where lazy loaders keep the real picture (in lower case, as they all write it).
_LAZY_ATTRS = (
    "src", "original", "lazy-src", "actualsrc", "original-src", "lazyload", "lazy", "echo",
    "url", "srcset",
)  # fmt: skip
# No IGNORECASE on patterns that scan whole articles: case folding makes them ~10× slower on
# CJK text. Letter classes do the same job here. One scan finds lazy attributes ("data-src=")
# and inline pictures ("data:image/").
_DATA_IMAGE = re.compile("data:image/")
_DATA_HINT = re.compile(rf"data(?:-(?:{'|'.join(map(re.escape, _LAZY_ATTRS))})\s*=|:image/)")
# Possessive: with "+" and "*" nested, an unclosed quote made it backtrack exponentially.
_IMG_TAG = re.compile(r"""<[iI][mM][gG]\b(?:[^>"']++|"[^"]*+"|'[^']*+')*+>""")
# An attribute value right after its "=": double-quoted, single-quoted or bare.
_VALUE = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_SRC_ATTR = re.compile(r"""[\s"'/]src\s*=""")
# The file names lazy loaders put in src until the picture is shown.
_PLACEHOLDER_NAME = re.compile(
    r"(?:blank|spacer|pixel|placeholder|loading|lazy|grey|gray|transparent)[\w.-]*"
    r"\.(?:gif|png|svg)(?:[?#]|$)"
)


# C0 and C1 control characters but tab, line feed and carriage return: no text holds them (XML
# 1.0 forbids most), and HTML parsers turn references such as "&#1;" into them.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")


def without_controls(text: str) -> str:
    """``text`` without C0/C1 control characters (tab, line feed, carriage return stay)."""
    return _CONTROLS.sub("", text)


def sanitise_html(html: str, base_url: str | None) -> str:
    """Return ``html`` with only safe markup left and relative URLs resolved against base_url."""
    if not html:
        return ""
    html = _renamed_root(_bounded_depth(html))
    # One regex scan, no `"data" in html` first: on CJK text a substring test is ~2× slower
    # than a regex search with a literal prefix.
    hits = list(_DATA_HINT.finditer(html))
    lazy = [hit for hit in hits if hit.group(0)[4] == "-"]
    if lazy:
        html = _unlazy(html, lazy)  # which drops the placeholders: look again
        allow_data_images = _DATA_IMAGE.search(html) is not None
    else:
        allow_data_images = bool(hits)
    clean = _cleaner(_usable_base(base_url), allow_data_images).clean(html).strip()
    # "&#1;" comes out as U+0001 (raw ones are the parser's to remove); "&" first: one memchr
    if "&" in html and "&#" in html:
        clean = without_controls(clean)
    # Added here rather than with ammonia's set_tag_attribute_values, whose hash map puts them
    # in a different order in every process (and so would change content hashes run to run).
    # Both attributes are off the allowlist, so no <img> has them already.
    clean = _IMG_START.sub(_IMG_WITH_ATTRS, clean)
    if "<audio" in clean or "<video" in clean:
        clean = _MEDIA_START.sub(_MEDIA_WITH_ATTRS, clean)
    return clean


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` bytes of UTF-8 without splitting a character."""
    if len(text) * 4 <= max_bytes:  # short enough whatever it holds: no encoding needed
        return text
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    if "<" in html:
        html = _ANY_TAG.sub(" ", _TEXT_CLEANER.clean(_renamed_root(_bounded_depth(html))))
    if "&" in html:
        html = htmllib.unescape(html)
    return " ".join(html.split())


def sanitised_html_to_text(clean_html: str) -> str:
    """``html_to_text`` for the output of ``sanitise_html``, ~3× faster: no second parse.

    Exact only for that output — no comments or scripts left, "<" and ">" escaped inside
    attribute values — so every "<…>" is a tag.
    """
    if "<" in clean_html:
        clean_html = _ANY_TAG.sub(" ", _INLINE_TAG.sub("", clean_html))
    if "&" in clean_html:
        clean_html = htmllib.unescape(clean_html)
    return " ".join(clean_html.split())


def first_image(html: str) -> str | None:
    """The ``src`` of the first ``<img>`` in *sanitised* HTML (as ammonia serialises it)."""
    start = html.find("<img ")  # a plain find first: ~2× faster than the regex's own scan
    match = _FIRST_IMG_SRC.search(html, start) if start >= 0 else None
    return htmllib.unescape(match.group(1)) if match else None


def _renamed_root(html: str) -> str:
    return _ROOT_TAG.sub(r"<\1rsspage-\2", html)


def _bounded_depth(html: str) -> str:
    """``html`` without the tags of elements nested deeper than _MAX_DEPTH (their text stays).

    html5ever (in ammonia) looks through every open element at each block start tag, so its
    time grows with the square of the nesting: 100,000 nested ``<div>`` take ~50 s, while no
    article nests even a hundred deep. The depth is estimated the way html5ever mostly counts
    it (void elements, ``<p>``/``<li>``… closing their open sibling); whatever comes out is
    sanitised afterwards, so an estimate can only cost structure, never safety.
    """
    # Too few tags to nest deep enough to matter (a tag takes 3 characters at least).
    if len(html) <= 3 * _DEPTH_CHECK_ABOVE or html.count("<") <= _DEPTH_CHECK_ABOVE:
        return html
    if not _may_nest_deeper(html):
        return html
    pieces: list[str] = []
    done = 0
    stack: list[str] = []  # the open elements, at most _MAX_DEPTH
    excess = 0  # elements open beyond _MAX_DEPTH: their tags go
    for tag in _START_OR_END_TAG.finditer(html):
        closing, name = tag.group(1), tag.group(2).lower()
        if name in _VOID_ELEMENTS:
            continue
        if not closing:
            if not excess and stack and stack[-1] == name and name in _SIBLING_CLOSERS:
                stack.pop()
            if not excess and len(stack) < _MAX_DEPTH:
                stack.append(name)
                continue
            excess += 1
        elif not excess:
            if name in stack:  # else a stray end tag, which the parser ignores too
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
            continue
        else:
            excess -= 1
        pieces.append(html[done : tag.start()])
        done = tag.end()
    return "".join((*pieces, html[done:])) if pieces else html


def _may_nest_deeper(html: str) -> bool:
    """Whether the nesting may exceed _MAX_DEPTH, by a bound ~20× cheaper than the walk above:
    every start tag but a void one opens an element, every end tag closes one."""
    steps = (-1 if mark else 1 for mark in _NON_VOID_TAG_MARK.findall(html))
    return max(accumulate(steps), default=0) > _MAX_DEPTH


def _usable_base(base_url: str | None) -> str | None:
    if base_url and base_url.startswith(("http://", "https://")):
        return base_url
    return None


@lru_cache(maxsize=256)
def _cleaner(base_url: str | None, allow_data_images: bool) -> nh3.Cleaner:
    # One cleaner per base URL: a feed's entries share theirs, and building one costs ~30 µs.
    # Without a base, relative URLs are dropped: they could only point into our own site, and
    # "relative" is also what URLs obfuscated with control characters ("\x01java\x03script:")
    # parse as.
    relative: nh3.UrlRelative = ("rewrite_with_base", base_url) if base_url else "deny"
    schemes = _SCHEMES | {"data"} if allow_data_images else _SCHEMES
    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes=_ATTRIBUTES,
        # The Python callback costs ~0.5 µs per attribute, so only documents with inline
        # pictures pay for it; it keeps "data:" out of every place but <img src>.
        attribute_filter=_only_image_data_urls if allow_data_images else None,
        link_rel=_LINK_REL,
        url_schemes=set(schemes),
        url_relative=relative,
    )


def _only_image_data_urls(tag: str, attr: str, value: str) -> str | None:
    squeezed = _URL_NOISE.sub("", value).lower()
    if not squeezed.startswith("data:"):
        return value
    if tag == "img" and attr == "src" and _SAFE_DATA_IMAGE.match(squeezed):
        return value
    return None


def _unlazy(html: str, hits: list[re.Match[str]]) -> str:
    """Rewrite the ``<img>`` tags that carry a lazy-loading attribute (found at ``hits``).

    Scanning for the attributes (a search with a literal prefix, fast even on long CJK text) and
    then looking back for the tag beats running a callback on every ``<img>``.
    """
    pieces: list[str] = []
    done = 0
    for hit in hits:
        start = html.rfind("<", done, hit.start())
        end = _img_tag_end(html, start) if start >= 0 else -1
        if end <= hit.start():
            continue  # not inside an <img>, or inside one rewritten already
        lazy = _value_at(html, hit.end()).strip()
        if hit.group(0).startswith("data-srcset"):
            lazy = (lazy.split(",")[0].split() or [""])[0]  # the first candidate's URL
        pieces += (html[done:start], _unlazy_img(html[start:end], lazy))
        done = end
    if not pieces:
        return html
    pieces.append(html[done:])
    return "".join(pieces)


def _img_tag_end(html: str, start: int) -> int:
    """End of the ``<img …>`` tag starting at ``start``, or -1 if none starts there."""
    if html[start + 1 : start + 4].lower() != "img":
        return -1
    end = html.find(">", start) + 1
    tag = html[start:end]
    if end and tag.count('"') % 2 == 0 and tag.count("'") % 2 == 0:
        return end  # the usual case: no ">" inside a quoted value
    match = _IMG_TAG.match(html, start)
    return match.end() if match else -1


def _unlazy_img(tag: str, lazy: str) -> str:
    """``<img …>`` with ``lazy`` as its src, unless it has a real src already."""
    src = _SRC_ATTR.search(tag)
    if src is not None:
        value = _VALUE.match(tag, src.end())
        if value is None or not _is_placeholder(_matched_value(value)):
            return tag
        tag = tag[: src.start() + 1] + tag[value.end() :]  # the placeholder goes
    if not lazy:
        return tag
    return f'<img src="{lazy.replace(chr(34), "&quot;")}"{tag[4:]}'


def _is_placeholder(src: str) -> bool:
    src = src.strip().lower()
    if not src or src.startswith(("data:", "about:")):
        return True
    name = src.rsplit("/", 1)[-1]
    # Bounded: the pattern's search costs the square of the length on "blankblank…".
    return len(name) <= 200 and _PLACEHOLDER_NAME.search(name) is not None


def _value_at(text: str, position: int) -> str:
    match = _VALUE.match(text, position)
    return "" if match is None else _matched_value(match)


def _matched_value(match: re.Match[str]) -> str:
    double, single, bare = match.groups()
    return double if double is not None else single if single is not None else bare or ""
