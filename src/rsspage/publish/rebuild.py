"""What an output's build starts from: its writer, the record of its last build, and the
changes in the archive since.

An output (the Hexo posts, the site) is skipped when the archive and every other input are as
its last build found them (build_record.py), and built from the articles changed since then
when the change log reaches back to it and they are not too many; otherwise every article is
read again (a full build).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rsspage.config import Config
from rsspage.publish import build_record, manifest, precompress
from rsspage.publish.build_record import BuildRecord
from rsspage.publish.write_stats import WriteStats
from rsspage.publish.writer import OutputWriter
from rsspage.store import ArchiveMark, Change, Store

#: Manifests of earlier versions, in the state folder (read once, then moved into the output).
LEGACY_MANIFESTS = {"hexo": "hexo-manifest.json", "site": "site-manifest.json"}


#: More changed articles than this since an output's last build: a full build (it reads the
#: archive once, where planning the changes costs a few indexed reads per article).
DELTA_LIMIT = 5_000

#: Bump when the feeds, OPML or sitemap change form, to render them all again.
EXTRAS_FORMAT = "extras-2"


def skipped(root: Path, record: BuildRecord | None, mark: ArchiveMark, inputs: str,
            health: str = "", window: str = "") -> WriteStats | None:
    """What a build skipped because nothing changed since the last one (``record``) would
    do; None when there is something to build."""
    if record is None or (record.mark, record.inputs, record.health, record.window) != (
            mark.as_text(), inputs, health, window):
        return None
    manifest.sweep_temporaries(manifest.path_of(root))  # a copy a kill left while saving it
    return WriteStats(written=0, unchanged=record.files, removed=0,
                      kept_unknown=record.kept_unknown, kept=record.files)


def record_build(root: Path, mark: ArchiveMark, inputs: str, stats: WriteStats,
                  tree: str = "", health: str = "", window: str = "") -> None:
    """After a build that put every file in place and removed every stale one."""
    build_record.save(root, BuildRecord(mark.as_text(), inputs, stats.written + stats.unchanged,
                                        stats.kept_unknown, build_record.manifest_stamp(root),
                                        tree, health, window))


def changes_since(store: Store, record: BuildRecord | None, mark: ArchiveMark,
                   inputs: str) -> list[Change] | None:
    """The articles changed since an output's last build (``record``), when only they need
    building: it was built from this archive with the same other inputs, the log reaches back
    to it, and they are not too many (then a full build costs less)."""
    if record is None or record.inputs != inputs:
        return None
    archive, _, seq = record.mark.rpartition(":")
    if archive != mark.archive or not seq.isdigit() or int(seq) > mark.seq:
        # Another archive, or this one set back to an older copy (a cache, a restored
        # export): the output may show changes the archive no longer has, and the log's
        # numbers after the copy's mark are not the output's.
        return None
    changes = store.changes_since(int(seq))
    return changes if changes is not None and len(changes) <= DELTA_LIMIT else None


def writer_for(config: Config, output: str, root: Path, *, whole: bool = False) -> OutputWriter:
    """The writer of ``output``; ``whole``: for a full build (OutputWriter)."""
    legacy = config.output.state / LEGACY_MANIFESTS[output]
    if output == "site":
        # Also without encodings: it removes the copies of a setting turned off folder by
        # folder (precompress.py), where the plain writer takes one path at a time (~5x slower).
        encodings, _ = precompress.usable(config.site.precompress)
        # The site's manifest is in SQLite (read by key: a +10 build reads a few hundred of
        # its 56,000 entries at 100,000 articles); Hexo's stays JSON, for git diffs of posts.
        return precompress.PrecompressingWriter(root, encodings, legacy_manifest=legacy,
                                                manifest_path=root / manifest.DB_NAME,
                                                whole=whole)
    return OutputWriter(root, legacy_manifest=legacy)


def write_unless_kept(writer: OutputWriter, previous: Mapping[str, str], key: str,
                       files: Sequence[str], render: Callable[[], dict[str, bytes]],
                       ) -> dict[str, str]:
    """Keep each of ``files`` whose input hash is ``key`` still; render and write the others."""
    missing = [f for f in files if previous.get(f) != key or not writer.keep(f)]
    if missing:
        rendered = render()
        for relpath in missing:
            writer.write(relpath, rendered[relpath])
    return dict.fromkeys(files, key)
