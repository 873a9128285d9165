"""The same story through several routes: a canonical link and a content fingerprint.

Pure functions; the store asks them whether a new article is one it already holds (issue 12,
"the same story once").

**Canonical link** — a comparison key, never the link that is published (an article keeps the
link its feed gave). Two links are the same article only when their keys are equal; the key
never drops a path segment or a query parameter that is not on the tracking list below.

- Tracking parameters go, as Miniflux's "remove tracking parameters" decides them: by name,
  case-insensitively, from a fixed list plus the ``utm_``/``mtm_``/``pk_`` families (Google's,
  Matomo's and Piwik's campaign tags). Names that are tracking on one site and meaning on
  another (``from``, ``source``, ``ref``) go only when their value says "a feed reader sent
  this" (``from=rss``), as Miniflux drops ``ref`` only when it names the feed's own site.
- The scheme is left out of the key: ``http://`` and ``https://`` of one host and path are
  the same document on every news site, and a key is only compared, never fetched, so no
  link is upgraded to an https that a host may not serve.
- The host is lower-cased (and loses a trailing dot); a port that is its scheme's default goes.
- The path keeps its case (servers are case-sensitive); one trailing ``/`` goes (``/a/`` and
  ``/a`` serve one page), an empty path is ``/``; percent-escapes are written one way.
- The remaining parameters are sorted by name (their order means nothing to a server that
  reads them by name; the values of a repeated name keep their order).
- The fragment goes (it addresses a place in the page), except a ``#!`` or ``#/`` route of a
  script-driven site, which names the page itself.

**Fingerprint** — for copies whose links differ (a mirror host): the title, normalised, must be
equal, and the start of the text near-identical (see :func:`same_text`), and the two dated
within :data:`FINGERPRINT_WINDOW_DAYS` of each other. Normalising keeps only
letters and digits after NFKC and case folding, so spaces, punctuation and full-width forms do
not matter, and Chinese needs no word breaks; digits stay, so "第3款芯片" and "第4款芯片" differ.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

__all__ = ["FINGERPRINT_WINDOW_DAYS", "HEAD_READ_CHARS", "canonical_link", "same_text",
           "text_head", "title_key"]

#: Parameters that only say where a click came from (lower-case names).
TRACKING_PARAMETERS = frozenset({
    # click identifiers: Facebook, Google, Microsoft, Twitter, Yandex, Instagram, TikTok
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "twclid", "yclid",
    "ysclid", "igshid", "ttclid", "srsltid", "_ga", "_gl",
    # Facebook share tags, Openstat
    "fb_action_ids", "fb_action_types", "fb_ref", "fb_source", "fb_comment_id", "_openstat",
    # mailing tools: Mailchimp, HubSpot, Marketo, Adobe, Vero
    "mc_cid", "mc_eid", "mc_tc", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "mkt_tok",
    "sc_cid", "vero_id", "vero_conv",
    # Google Analytics 4 campaign tags
    "campaign_id", "campaign_medium", "campaign_name", "campaign_source", "campaign_term",
    "campaign_content", "itm_campaign", "itm_medium", "itm_source",
    # Chinese sites: Alibaba's spm/scm position tags, Bilibili's and WeChat's share tags
    "spm", "scm", "spm_id_from", "vd_source", "share_source", "share_medium", "share_plat",
    "share_tag", "share_session_id", "share_from", "wxshare_count",
})
#: Families of campaign tags, by name prefix.
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_")
#: Names that are tracking only with a value saying a reader or an aggregator sent the click.
_REFERRER_NAMES = frozenset({"from", "source", "ref", "src", "f"})
_REFERRER_VALUES = frozenset({
    "rss", "rss2", "feed", "feeds", "atom", "rsshub", "feedly", "inoreader", "newsletter",
    "email", "timeline", "singlemessage", "groupmessage", "share", "wechat", "weixin", "weibo",
    "twitter", "facebook", "telegram", "toutiao",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What a path keeps unescaped (RFC 3986 pchar and "/"); everything else is %XX, upper case.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")

#: Days between two copies' dates within which a fingerprint match counts: the same story
#: travels between routes within hours; a year later the same title is another story.
FINGERPRINT_WINDOW_DAYS = 3
#: Normalised characters of the text compared (the first paragraph, or about).
_HEAD_CHARS = 200
#: Raw characters of a text :func:`text_head` reads (normalising drops some).
HEAD_READ_CHARS = _HEAD_CHARS * 2
#: Fewer normalised title characters than this say too little ("快讯", "Update").
_MIN_TITLE_CHARS = 4
#: Fewer normalised text characters than this: nothing to compare, no fingerprint match.
_MIN_HEAD_CHARS = 50
#: Share of character bigrams two text heads must have in common to be near-identical.
_MIN_SIMILARITY = 0.9


def canonical_link(link: str) -> str:
    """The comparison key of ``link`` (see the module's docstring); ``""`` for a link that is
    not absolute http(s) or does not parse."""
    try:
        parts = urlsplit(link.strip())
        port = parts.port
    except ValueError:  # a malformed port or IPv6 host
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address keeps its brackets, or a port would be ambiguous
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"//{host}{_path(parts.path)}{_query(parts.query)}{_fragment(parts.fragment)}"


def _path(path: str) -> str:
    path = _escaped(path) or "/"
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def _escaped(text: str) -> str:
    """``text`` with every character outside ``_PATH_SAFE`` percent-escaped, upper case."""
    return _ESCAPE.sub(lambda m: m[0].upper(), quote(text, safe=_PATH_SAFE + "%"))


def _query(query: str) -> str:
    if not query:
        return ""
    kept = [(name, value) for name, value in parse_qsl(query, keep_blank_values=True)
            if not _is_tracking(name.lower(), value.lower())]
    kept.sort(key=lambda pair: pair[0])  # stable: a repeated name's values keep their order
    return "?" + urlencode(kept) if kept else ""


def _is_tracking(name: str, value: str) -> bool:
    if name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES):
        return True
    return name in _REFERRER_NAMES and value in _REFERRER_VALUES


def _fragment(fragment: str) -> str:
    return "#" + fragment if fragment.startswith(("!", "/")) else ""


def _normalised(text: str) -> str:
    """Letters and digits only, after NFKC and case folding."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def title_key(title: str) -> str:
    """A short hash of the normalised title; ``""`` when it says too little to match on."""
    normalised = _normalised(title)
    if len(normalised) < _MIN_TITLE_CHARS:
        return ""
    return hashlib.sha256(normalised.encode()).hexdigest()[:16]


def text_head(text: str) -> str:
    """The normalised start of an article's text: what :func:`same_text` compares."""
    return _normalised(text[:HEAD_READ_CHARS])[:_HEAD_CHARS]


def same_text(head: str, other: str) -> bool:
    """Whether two :func:`text_head` values are near-identical over the shorter one's length
    (a summary is the start of the full text; a mirror's appended credit lies past it): at
    least 50 characters of it, sharing at least 90 % of their character bigrams (Jaccard),
    which forgives an edited word or spacing, not another story."""
    length = min(len(head), len(other))
    if length < _MIN_HEAD_CHARS:
        return False
    head, other = head[:length], other[:length]
    if head == other:
        return True
    first, second = _bigrams(head), _bigrams(other)
    return len(first & second) / len(first | second) >= _MIN_SIMILARITY


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}
