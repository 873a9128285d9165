"""The writer's journal: the paths a build is about to create or replace, one JSON string a
line, appended (and fsync'ed when durable) before the file is touched.

A journal left behind means the last build was killed: the next one treats those paths as its
own with an unknown digest (rewritten, never kept), and sweeps what the killed one left. Read
with :func:`~rsspage.publish.manifest.load_journal`; :class:`Journal` writes it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

import orjson

from rsspage.errors import PublishError
from rsspage.fileio import TMP_SUFFIX, write_all
from rsspage.publish import manifest as manifests


class Journal:
    """The journal at ``path``; ``cut``: its last entry was cut off by a kill (ended with a
    newline before the next one is written)."""

    def __init__(self, path: Path, *, cut: bool, durable: bool, temporary: Path) -> None:
        self.path = path
        self._cut = cut
        self._durable = durable
        #: Where :meth:`remove` writes the shortened journal before replacing it.
        self._temporary = temporary
        self._fd: int | None = None
        self._later: list[bytes] = []  # record(later=True): written with the next record

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> int:
        """Open it for appending (its existence marks a build in progress)."""
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                             0o666)
                self._fd = fd
                if self._cut:  # end the cut-off entry, or it would swallow the next
                    write_all(fd, b"\n")
                    self._cut = False
            except OSError as e:
                raise PublishError(f"cannot open journal {self.path}: {e.strerror}") from e
        return self._fd

    def record(self, relpaths: Iterable[str], *, later: bool = False) -> None:
        """Record ``relpaths`` before their files are created or replaced (crash safety).
        ``later``: with the next record, before which nothing is made for them (a render
        worker's temporaries are in the staging folder; their folders are made after the next
        record): one write for a full build's 22,000 pages, not one each."""
        fd = self.open()
        # JSON keeps any character of a path on one line; one write, no buffering. orjson:
        # json.dumps took ~0.15 s of a full build's.
        self._later += (orjson.dumps(rel) + b"\n" for rel in relpaths)
        if later or not self._later:
            return
        lines, self._later = b"".join(self._later), []
        try:
            write_all(fd, lines)
            if self._durable:
                os.fsync(fd)
        except OSError as e:
            raise PublishError(f"cannot write journal {self.path}: {e.strerror}") from e

    def remove(self, relpaths: set[str]) -> None:
        """Take ``relpaths`` out of the journal (rewritten atomically)."""
        if not relpaths:
            return
        kept, _cut = manifests.load_journal(self.path)
        lines = b"".join(orjson.dumps(rel) + b"\n" for rel in kept if rel not in relpaths)
        self._temporary.write_bytes(lines)
        os.replace(self._temporary, self.path)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def journal_temporary(manifest_path: Path) -> Path:
    """Named like the manifest's own temporaries, so that a leftover one is swept with them."""
    return manifest_path.with_name(f".{manifest_path.name}.journal{TMP_SUFFIX}")
