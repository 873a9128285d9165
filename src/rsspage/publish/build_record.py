"""What an output folder was last built from, so that a build with nothing new does nothing.

``<output>/.rsspage-build.json`` holds the archive's mark (:class:`~rsspage.store.ArchiveMark`:
its identity and the number of its last change), a digest of every other input of the
output (templates, settings, formats) and one of the feeds' health at the end of the last
complete build. When all are the same again, the files on disk are what a build would write,
and the build is skipped without reading the archive, the manifest or a single page: it costs
the same for 300,000 articles as for 300. When only the mark and the health moved, the site is
built from the changes alone (site_delta.py), starting from that mark.

It is written only after a build has put every file in place and removed every stale one, and
it is not trusted while a journal says a build was interrupted. It travels with the files it
describes (a cached site, a checkout of Hexo posts); a state folder that was lost or restored
elsewhere has a new identity, so its first build is a full one.

A file changed or deleted by hand is not noticed by a skipped build; ``rsspage build --full``
checks every file.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rsspage.errors import PublishError
from rsspage.fileio import replace_file
from rsspage.publish import manifest

NAME = ".rsspage-build.json"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class BuildRecord:
    #: ``ArchiveMark.as_text()`` of the archive the output was built from.
    mark: str
    #: Digest of everything else the output was built from.
    inputs: str
    #: Files the output held after that build, and of them the ones kept for articles the
    #: archive did not know (reported again by a skipped build).
    files: int = 0
    kept_unknown: int = 0
    #: Size and modification time of the manifest after that build: a manifest changed since
    #: (damaged, or another copy checked out) is read by a full build.
    manifest: str = ""
    #: The category tree's key (site_delta.tree_key): whether a build of the changes alone
    #: can tell the folders of listings that came or went.
    tree: str = ""
    #: Digest of the feeds' health the status page and the OPML showed.
    health: str = ""
    #: The start of the window of the archive that got pages (ISO 8601; "": all of it).
    window: str = ""


def load(root: Path) -> BuildRecord | None:
    """The record of ``root``'s last complete build; None if there is none to trust (none,
    unreadable, the manifest changed since, or a build interrupted since: its journal is
    still there)."""
    if manifest.journal_of(manifest.path_of(root)).exists():
        return None
    try:
        body = json.loads((root / NAME).read_bytes())
        if body.pop("version") != _VERSION:
            return None
        record = BuildRecord(**body)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # it only saves work: without it, the build checks everything
    return record if record.manifest == manifest_stamp(root) else None


def manifest_stamp(root: Path) -> str:
    """Size and modification time of ``root``'s manifest ("" when there is none); of one in
    SQLite also its file change counter (header bytes 24-27, one more at each commit: its size
    is a whole number of pages, often the same after a change)."""
    path = manifest.path_of(root)
    try:
        st = path.stat()
        counter = _change_counter(path) if manifest.is_db(path) else ""
    except OSError:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}" + (f":{counter}" if counter else "")


def _change_counter(path: Path) -> str:
    with path.open("rb") as file:
        header = file.read(28)
    return header[24:28].hex() if len(header) == 28 else "none"


def save(root: Path, record: BuildRecord) -> None:
    data = json.dumps({"version": _VERSION, **asdict(record)}, sort_keys=True).encode("utf-8")
    try:
        replace_file(root / NAME, data, durable=False)
    except OSError as e:
        raise PublishError(f"cannot save {root / NAME}: {e.strerror}") from e


def forget(root: Path) -> None:
    """Drop the record (before a build that may leave files changed). A record that cannot be
    removed is left to the writer, which fails clearly on the same folder (a file where the
    folder should be, no permission)."""
    with contextlib.suppress(OSError):
        (root / NAME).unlink()
