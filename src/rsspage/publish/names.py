"""Safe, readable file and folder names made from feed text (titles, category names).

A name made here is one path segment that every common file system, Hexo 8 and a static web
host accept as is. Feed text is untrusted, so :func:`safe_segment`:

- NFC-normalises (macOS would otherwise store a different byte sequence for the same name);
- drops control, format (bidi marks, zero-width joiners), surrogate, private-use and unassigned
  characters;
- turns every kind of white space into one plain space;
- replaces ``/ \\ : * ? " < > | % #`` with their full-width look-alikes: ``%`` because Hexo 8
  silently skips any post whose path holds one (``decodeURI`` throws), ``#`` and ``?`` because
  Hexo builds permalinks with ``new URL`` and would cut the path there, the rest for Windows;
- strips leading and trailing dots and spaces (Windows drops them; ``.`` / ``..`` vanish);
- turns a leading ``_`` into ``＿`` (Hexo ignores ``_``-prefixed files and folders in
  ``_posts``);
- appends ``_`` to Windows device names (``CON``, ``com1.txt`` …);
- cuts to a byte budget at a character boundary.

:func:`clash_key` tells which paths a case-insensitive, normalisation-insensitive file system
(Windows, macOS) would take for the same file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Container

from rsspage.sanitise import truncate_utf8

#: Characters that are unsafe in a path segment → readable full-width look-alikes.
_LOOKALIKES = str.maketrans(
    {
        "/": "／",
        "\\": "＼",
        ":": "：",
        "*": "＊",
        "?": "？",
        '"': "＂",
        "<": "＜",
        ">": "＞",
        "|": "｜",
        "%": "％",
        "#": "＃",
    }
)
#: Unicode categories removed outright: control, format, surrogate, private use (no meaning
#: outside one font), unassigned.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})
_SPACES = re.compile(" {2,}")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
#: Below this a name could not hold a Windows-device fix plus a readable stem.
MIN_BYTES = 16
DEFAULT_FALLBACK = "untitled"


def safe_segment(text: str, max_bytes: int = 200, *, fallback: str = DEFAULT_FALLBACK) -> str:
    """Return ``text`` as a safe path segment of at most ``max_bytes`` bytes of UTF-8.

    ``fallback`` (made safe the same way) is used when nothing of ``text`` survives.
    """
    if max_bytes < MIN_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_BYTES}, got {max_bytes}")
    name = _fit(_clean(text), max_bytes)
    if name:
        return name
    return _fit(_clean(fallback), max_bytes) or DEFAULT_FALLBACK


def clash_key(relpath: str) -> str:
    """The key under which case- or normalisation-insensitive file systems see ``relpath``."""
    if relpath.isascii():  # most site paths (a/3f/….html); casefold is lower() on ASCII
        return relpath.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", relpath).casefold())


def _clean(text: str) -> str:
    chars: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch.isspace() or category in _SPACE_CATEGORIES:
            chars.append(" ")
        elif category not in _DROPPED_CATEGORIES:
            chars.append(ch)
    # Dropping a character can leave a composable pair behind, hence NFC once more.
    cleaned = unicodedata.normalize("NFC", "".join(chars).translate(_LOOKALIKES))
    return _SPACES.sub(" ", cleaned)


def _fit(name: str, max_bytes: int) -> str:
    # Trimming can expose a device name ("CONSOLE" → "CON") and the device fix adds a byte,
    # so trim, fix, then trim once more; the fix sits at the front, so the second cut keeps it.
    name = _fix_device(_trim(truncate_utf8(_trim(name), max_bytes)))
    return _trim(truncate_utf8(name, max_bytes))


def _trim(name: str) -> str:
    name = name.strip(" .")
    return "＿" + name[1:] if name.startswith("_") else name


def _fix_device(name: str) -> str:
    stem = name.split(".", 1)[0].rstrip(" ")
    if stem.upper() in _WINDOWS_DEVICES:
        return stem + "_" + name[len(stem) :]
    return name


class Spellings:
    """The owned paths of an output folder under each :func:`clash_key`, for its writer.

    Most paths are their own clash key (``a/3f/….html``) and are not stored: such a key is
    found as itself among the owned paths. Stored are a key → the owned path under it when that
    path is another spelling, and the rare keys owned under several spellings → all of them. (A
    set per path would be 12 MB of 56,000 pages, an entry per path 0.05 s.)
    """

    def __init__(self, owned: Container[str]) -> None:
        self._owned = owned  # the writer's owned paths, as they change
        self._first: dict[str, str] = {}
        #: Clash key → its owned spellings, for keys owned under several.
        self.twins: dict[str, set[str]] = {}

    def of(self, key: str) -> Collection[str]:
        """The owned paths under clash key ``key``."""
        twins = self.twins.get(key)
        if twins is not None:
            return twins
        first = self._first.get(key)
        if first is not None:
            return (first,)
        return (key,) if key in self._owned else ()

    def add(self, key: str, relpath: str) -> None:
        """Record that the owned ``relpath`` has clash key ``key``."""
        if key == relpath:  # the common case, not stored: found as itself in the owned paths
            other = self._first.get(key)
            if other is not None:
                self.twins.setdefault(key, {other}).add(relpath)
            return
        first = self._first.setdefault(key, relpath)
        if first != relpath:
            self.twins.setdefault(key, {first}).add(relpath)
        if key in self._owned:  # also owned under the key's own spelling
            self.twins.setdefault(key, {first}).update((key, relpath))
