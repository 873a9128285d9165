"""Copy a whole archive into another store (``rsspage migrate``): SQLite into PostgreSQL, or
back, verified.

The copy is the archive's export (store/export.py) restored into the empty target, which
takes over the archive's identity and mark: outputs built from the source are known to the
target as built from it, and the next build renders only what changes. Page hashes (what each
page was built from) are copied too, so a full build skips the pages it would make again.

Verified by exporting the target as well: both exports are written as parts, row by row in a
fixed order, so an archive copied whole gives the same records. Each part's content is hashed
(SHA-256 of the decompressed records); counts and digests of both sides are returned and a
difference names its parts.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rsspage.errors import StoreError

if TYPE_CHECKING:
    from rsspage.store import Store


@dataclass(frozen=True, slots=True)
class Side:
    """One archive as its export saw it."""

    feeds: int
    articles: int
    #: Part name → SHA-256 of its records.
    parts: dict[str, str]

    @property
    def digest(self) -> str:
        """One SHA-256 over every part's (in name order)."""
        whole = hashlib.sha256()
        for name in sorted(self.parts):
            whole.update(f"{name}:{self.parts[name]}\n".encode())
        return whole.hexdigest()


@dataclass(frozen=True, slots=True)
class Migration:
    source: Side
    target: Side
    page_hashes: int

    @property
    def differing(self) -> list[str]:
        """Parts whose records differ between the two (none: a whole copy)."""
        names = self.source.parts.keys() | self.target.parts.keys()
        return sorted(n for n in names if self.source.parts.get(n) != self.target.parts.get(n))


def copy_archive(source: Store, target: Store) -> Migration:
    """Copy ``source`` into ``target``, which must hold nothing yet (a merge could not be
    verified as a copy), and compare the two."""
    if target.feed_keys() or target.article_count() or target.mark().seq:
        raise StoreError("the target store is not empty: rsspage migrate copies into an empty "
                         "one (give a new database, or an empty state folder)")
    with tempfile.TemporaryDirectory(prefix="rsspage-migrate-") as work:
        exported, copied = Path(work) / "source", Path(work) / "target"
        counts = source.export_parts(exported)
        target.restore(exported)
        pages = 0
        for output in source.page_outputs():
            hashes = source.page_hashes(output)
            target.save_page_hashes(output, hashes)
            pages += len(hashes)
        again = target.export_parts(copied)
        return Migration(Side(counts.feeds, counts.articles, _digests(exported)),
                         Side(again.feeds, again.articles, _digests(copied)), pages)


def _digests(folder: Path) -> dict[str, str]:
    return {part.name: hashlib.sha256(gzip.decompress(part.read_bytes())).hexdigest()
            for part in sorted(folder.iterdir())}
