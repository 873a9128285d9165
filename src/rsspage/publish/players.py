"""Players for an article's enclosures (issue 12), on the site's article page and in Hexo posts.

Each audio or video file gets ``<audio controls preload="none">`` / ``<video controls
preload="none">`` with a ``<source src type>`` (a video's poster is the article's picture, when
it has one), and every file a download link with its size and playing time. ``preload="none"``:
a page of a podcast loads nothing of the episode until the reader presses play.

Only http(s) URLs are shown (normalise keeps no other; a restored archive is checked again), and
every value is escaped: by Jinja's autoescape on the site (``article.html``), by
:func:`html.escape` in :func:`player_html` for Hexo.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from rsspage.media import MEDIA_KINDS
from rsspage.types import Article

__all__ = ["Player", "human_duration", "human_size", "player_html", "players"]

_LABELS = {"zh": "下载", "en": "Download"}


@dataclass(frozen=True, slots=True)
class Player:
    """One enclosure as a page shows it."""

    #: ``audio`` or ``video`` (a player), or ``""`` (a download link only).
    kind: str
    url: str
    #: MIME type for ``<source type>``; ``""`` when unknown (the browser then looks itself).
    type: str
    #: ``12.3 MB``, ``""`` when unknown.
    size: str
    #: ``1:02:03`` / ``4:05``, ``""`` when unknown.
    duration: str
    #: A video's poster (the article's picture), else ``""``.
    poster: str = ""

    @property
    def details(self) -> str:
        """``12.3 MB · 1:02:03``, what is known of the two."""
        return " · ".join(part for part in (self.size, self.duration) if part)


def _http(url: str) -> str:
    return url if url.lower().startswith(("http://", "https://")) else ""


def players(article: Article) -> list[Player]:
    """The article's enclosures as the page shows them, in order."""
    found = []
    for enclosure in article.enclosures:
        url = _http(enclosure.url)
        if not url:
            continue
        kind = enclosure.medium if enclosure.medium in MEDIA_KINDS else ""
        poster = _http(article.image) if kind == "video" else ""
        found.append(Player(kind, url, enclosure.type, human_size(enclosure.length),
                            human_duration(enclosure.duration), poster))
    return found


def human_size(length: int | None) -> str:
    """``532 B``, ``12.3 KB``, ``45.6 MB``, ``1.2 GB`` (units of 1,024)."""
    if not length:
        return ""
    size = float(length)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: int | None) -> str:
    """``4:05``, ``1:02:03``."""
    if not seconds:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def player_html(article: Article, language: str = "zh") -> str:
    """The players of :func:`players` as HTML (one line each, no blank line: Hexo's Markdown
    renderer would end the HTML block there); ``""`` when the article has no enclosure."""
    label = _LABELS["zh" if language.lower().startswith("zh") else "en"]
    lines = []
    for player in players(article):
        url = html.escape(player.url, quote=True)
        source = f'<source src="{url}"' + (
            f' type="{html.escape(player.type, quote=True)}">' if player.type else ">")
        element = ""
        if player.kind == "audio":
            element = f'<audio controls preload="none">{source}</audio>'
        elif player.kind == "video":
            poster = (f' poster="{html.escape(player.poster, quote=True)}"'
                      if player.poster else "")
            element = f'<video controls preload="none"{poster}>{source}</video>'
        details = f" · {html.escape(player.details)}" if player.details else ""
        lines.append(f'<figure class="rsspage-media">{element}<figcaption><a href="{url}" '
                     f'rel="noopener noreferrer nofollow">{label}</a>{details}</figcaption>'
                     f"</figure>")
    return "\n".join(lines)
