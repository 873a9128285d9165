"""How big the built site is, counted as a host receives it.

After every build the whole site folder is measured, whatever wrote it: rsspage's pages and
feeds, Pagefind's bundles, precompressed siblings, a ``CNAME`` the user put there. ``.git`` and
``.github`` are left out (``actions/upload-pages-artifact`` leaves them out), and a link to a file
counts as the file (its ``tar --dereference`` follows links). Besides bytes and files it counts
what GitHub Pages measures, the tar archive the workflow uploads: each file and folder costs a
512-byte header and its data is padded to 512 bytes, which added 11 % to a 20,000-article site.

Cost: a ``stat`` per file took 0.19 s for the 42,794 files of a 20,000-article site (2 cores, warm
cache) and grows with the site, while a build that changed nothing should take well under a
second. So each folder's numbers are kept beside the folder's mtime, and a folder is read again
only when its mtime moved. Creating, replacing (``os.replace``) or deleting a file in a folder
moves its mtime, and rsspage and Pagefind write files no other way; a file edited in place by hand
is seen once its folder changes. A folder changed in the last seconds is read again next time (a
coarse clock could hide a second change). A build that changed nothing stats the ~440 folders and
reads none. The numbers describe this machine's copy of the site (a checkout or a restored cache
has other mtimes), so they are kept in the state folder, not with the site, which a build that
changed nothing leaves untouched.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsspage.fileio import TMP_SUFFIX, replace_file
from rsspage.types import OutputCounts

log = logging.getLogger("rsspage")

#: A folder changed this recently is not kept: a change within the same tick of a coarse clock
#: (2 s on FAT) would leave its mtime as it was (git's "racy" entries).
_SETTLE_NS = 3_000_000_000
_CACHE_VERSION = 1
#: Names no host receives (they are left out at any depth, as tar's ``--exclude`` does).
_UNPUBLISHED = frozenset({".git", ".github"})
_BLOCK = 512
#: GNU tar (the runner's) writes a ``././@LongLink`` entry before a longer name.
_TAR_NAME = 100
#: tar pads the archive to whole records of 20 blocks.
_TAR_RECORD = 20 * _BLOCK


@dataclass(frozen=True, slots=True)
class SiteSize:
    """What the site folder holds, as a host counts it."""

    #: Sum of the files' sizes.
    bytes: int
    files: int
    #: Size of the tar archive of the folder (what GitHub Pages' upload holds).
    tar_bytes: int
    #: The largest file (path relative to the site) and its size.
    largest: str = ""
    largest_bytes: int = 0
    #: The folder holding the most files ("" is the top) and how many.
    fullest: str = ""
    fullest_files: int = 0


@dataclass(frozen=True, slots=True)
class SiteCounts(OutputCounts):
    """What publishing did to the site folder, and what the folder holds afterwards."""

    size: SiteSize | None = None
    #: For the user, after the summary: host limits near or passed, an encoding not written.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Folder:
    """The numbers of one folder's own files (not its subfolders'), as of its mtime."""

    mtime: int
    files: int
    bytes: int
    tar_bytes: int
    largest: str
    largest_bytes: int
    subfolders: tuple[str, ...]


def measure(root: Path, cache: Path) -> SiteSize:
    """The size of the folder ``root`` now, reading only the folders that changed since the last
    measure, whose numbers ``cache`` keeps. A folder that cannot be read counts as empty: the
    report never fails a build."""
    cached = _load_cache(cache, root)
    settled = time.time_ns() - _SETTLE_NS
    kept: dict[str, _Folder] = {}
    total = _Total()
    pending = [""]
    while pending:
        rel = pending.pop()
        folder = _folder(root, rel, cached.get(rel))
        if folder is None:
            continue
        if folder.mtime < settled:
            kept[rel] = folder
        total.add(rel, folder)
        pending += [f"{rel}/{name}" if rel else name for name in folder.subfolders]
    _save_cache(cache, root, kept)
    return total.size()


def _folder(root: Path, rel: str, cached: _Folder | None) -> _Folder | None:
    path = os.path.join(root, rel) if rel else str(root)
    try:
        mtime = os.stat(path, follow_symlinks=False).st_mtime_ns
        if cached is not None and cached.mtime == mtime:
            return cached
        return _scan(path, rel, mtime)
    except OSError:  # gone or unreadable meanwhile
        return None


def _scan(path: str, rel: str, mtime: int) -> _Folder:
    files = size = tar = largest_bytes = 0
    largest = ""
    subfolders = []
    prefix = f"./{rel}/" if rel else "./"
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name in _UNPUBLISHED:
                continue
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(entry.name)
                continue
            try:  # a link to a file counts as the file; anything else is left out
                if not entry.is_file():
                    continue
                bytes_ = entry.stat().st_size
            except OSError:  # gone meanwhile
                continue
            files += 1
            size += bytes_
            tar += _BLOCK + _blocks(bytes_) + _long_name(prefix + entry.name)
            if bytes_ > largest_bytes:
                largest, largest_bytes = entry.name, bytes_
    tar += tar_entry(prefix, 0)  # the folder's own entry
    return _Folder(mtime, files, size, tar, largest, largest_bytes, tuple(sorted(subfolders)))


def tar_entry(name: str, size: int) -> int:
    """Bytes one entry takes in a GNU tar archive: a header, the data padded to whole blocks,
    and for a long name a ``././@LongLink`` entry holding it."""
    return _BLOCK + _blocks(size) + _long_name(name)


def _long_name(name: str) -> int:
    if len(name) < _TAR_NAME // 4:  # short in any encoding: most names, no encode() needed
        return 0
    length = len(name.encode("utf-8", "surrogateescape"))
    return _BLOCK + _blocks(length + 1) if length >= _TAR_NAME else 0


def _blocks(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


class _Total:
    def __init__(self) -> None:
        self.files = self.bytes = self.tar = 0
        self.largest, self.largest_bytes = "", 0
        self.fullest, self.fullest_files = "", 0

    def add(self, rel: str, folder: _Folder) -> None:
        self.files += folder.files
        self.bytes += folder.bytes
        self.tar += folder.tar_bytes
        if folder.largest_bytes > self.largest_bytes:
            self.largest = f"{rel}/{folder.largest}" if rel else folder.largest
            self.largest_bytes = folder.largest_bytes
        if folder.files > self.fullest_files:
            self.fullest, self.fullest_files = rel, folder.files

    def size(self) -> SiteSize:
        end = self.tar + 2 * _BLOCK  # two zero blocks end the archive
        tar = -(-end // _TAR_RECORD) * _TAR_RECORD
        return SiteSize(self.bytes, self.files, tar, self.largest, self.largest_bytes,
                        self.fullest, self.fullest_files)


def _load_cache(cache: Path, root: Path) -> dict[str, _Folder]:
    """The folders of the last measure of ``root``; none when unreadable (it only saves time)."""
    try:
        body = json.loads(cache.read_bytes())
        if body.get("version") != _CACHE_VERSION or body.get("root") != str(root):
            return {}
        return {str(rel): _row(row) for rel, row in body["folders"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # unpacking a short row is a ValueError


def _row(row: list[Any]) -> _Folder:
    mtime, files, size, tar, largest, largest_bytes, subfolders = row
    numbers = (mtime, files, size, tar, largest_bytes)
    if not all(type(n) is int for n in numbers) or not isinstance(largest, str):
        raise TypeError("not a folder's numbers")
    names = tuple(str(name) for name in subfolders)
    if any("/" in name or name in ("", ".", "..") for name in names):
        raise TypeError("not a folder name")  # a damaged cache must not lead outside the site
    return _Folder(mtime, files, size, tar, largest, largest_bytes, names)


def _save_cache(cache: Path, root: Path, folders: dict[str, _Folder]) -> None:
    rows: dict[str, list[Any]] = {
        rel: [f.mtime, f.files, f.bytes, f.tar_bytes, f.largest, f.largest_bytes,
              list(f.subfolders)]
        for rel, f in sorted(folders.items())}
    data = json.dumps({"version": _CACHE_VERSION, "root": str(root), "folders": rows},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        if cache.stat().st_size == len(data) and cache.read_bytes() == data:
            return
    except OSError:
        pass
    try:
        for leftover in cache.parent.glob(f".{cache.name}.*{TMP_SUFFIX}"):  # a killed save's
            leftover.unlink(missing_ok=True)
        replace_file(cache, data, durable=False)
    except OSError as e:  # only costs the next build a full measure
        log.debug("cannot save %s: %s", cache, e)


# -- words ------------------------------------------------------------------------------------


def human_bytes(size: int) -> str:
    """``281 MB``, ``1.35 GB``, ``640 kB``: decimal units, three significant digits."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 999.5 or unit == "GB":
            break
        value /= 1000
    if unit == "B":
        return f"{size} B"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def describe(size: SiteSize) -> str:
    """``281 MB in 43,120 files``."""
    return f"{human_bytes(size.bytes)} in {size.files:,} file{'s' if size.files != 1 else ''}"
