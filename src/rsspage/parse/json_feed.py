"""JSON Feed 1.0/1.1, read by hand: a JSON object with a JSON Feed version and an item list;
pictures from ``image``, ``banner_image`` and image attachments; every attachment (``url``,
``mime_type``, ``size_in_bytes``, ``duration_in_seconds``) as an enclosure."""

from __future__ import annotations

import html
import json
from typing import Any

from ..errors import ParseError
from ..media import parse_duration, parse_length
from ..types import Enclosure, ParsedFeed, RawEntry
from .dates import parse_date

__all__ = ["parse_json_feed"]


def parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(f"not a feed: invalid JSON ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ParseError("not a feed: JSON without a JSON Feed item list")
    if not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise ParseError("not a feed: JSON without a JSON Feed version")
    entries = tuple(_json_entry(item, url) for item in doc["items"] if isinstance(item, dict))
    return ParsedFeed(
        title=_json_str(doc.get("title")),
        link=_json_str(doc.get("home_page_url")),
        entries=entries,
        parser="json",
    )


def _json_str(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) and value else None


def _json_entry(item: dict[str, Any], url: str) -> RawEntry:
    text = _json_str(item.get("content_text"))
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    author = next(
        (_json_str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")), None
    )
    images = [_json_str(item.get("image")), _json_str(item.get("banner_image"))]
    enclosures = []
    attachments = item.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict) or not isinstance(attachment.get("url"), str):
            continue
        mime = attachment.get("mime_type")
        mime = mime if isinstance(mime, str) else ""
        if mime.startswith("image/"):
            images.append(_json_str(attachment.get("url")))
        enclosures.append(Enclosure(
            attachment["url"], mime, parse_length(attachment.get("size_in_bytes")),
            # A string of H:MM:SS (RSSHub writes itunes:duration there) is read too.
            parse_duration(attachment.get("duration_in_seconds"))))
    tags = item.get("tags")
    tags = tags if isinstance(tags, list) else []
    return RawEntry(
        guid=_json_str(item.get("id")),
        link=_json_str(item.get("url")) or _json_str(item.get("external_url")),
        title=_json_str(item.get("title")),
        title_is_html=False,
        published=parse_date(_json_str(item.get("date_published"))),
        updated=parse_date(_json_str(item.get("date_modified"))),
        author=author,
        content_html=_json_str(item.get("content_html")) or (html.escape(text) if text else None),
        summary_html=html.escape(s) if (s := _json_str(item.get("summary"))) else None,
        images=tuple(dict.fromkeys(i for i in images if i)),
        categories=tuple(str(t) for t in tags if isinstance(t, str | int)),
        base_url=url or None,
        enclosures=tuple(enclosures),
    )
