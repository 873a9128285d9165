"""Precompressed copies of the site's text files (``site.precompress``), for servers that send
them as they are (nginx ``gzip_static`` / ``brotli_static``, Caddy ``precompressed``) instead of
compressing each answer.

``index.html`` gets ``index.html.gz`` and/or ``index.html.br`` beside it; only text files
(:data:`TEXT_TYPES`): Pagefind's ``.pf_*`` files and its WebAssembly are gzip already.

The copies of the files rsspage writes go through the output writer like any file, so they are
owned (in the manifest) and never left stale: a file written in this build gets new copies, a file
kept unchanged keeps its copies (made once from the file on disk when it has none, e.g. the build
after precompress was switched on), and a copy no build wrote any more (its file is gone, or
precompress is off) is removed by ``finish()`` like any other file. Pagefind's bundles are not the
writer's: :func:`sync_search` gives their scripts copies after they are put in place, and takes
them away when precompress is off (a bundle is replaced whole, never leaving an old copy).

Output is deterministic (gzip header without a time or name), so unchanged content keeps its
bytes. Levels, measured on the pages of a 20,000-article site (12 KB each on average): gzip 6
gives 26.4 % of the size at 63 MB/s, and 9 nothing more (26.3 %, 49 MB/s); brotli 7 gives 21.6 %
at 31 MB/s (5: 22.6 %, 45 MB/s; 11: 19.3 % but 0.4 MB/s, minutes for a full build). brotli is
optional: without the ``brotli`` package no ``.br`` is written, and the build says so.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rsspage.errors import PublishError
from rsspage.fileio import replace_file
from rsspage.publish.writer import OutputWriter, WriteStats

_BROTLI: Any = (
    importlib.import_module("brotli") if importlib.util.find_spec("brotli") is not None else None
)
#: Files that get compressed copies, by their suffix.
TEXT_TYPES = frozenset({".html", ".css", ".js", ".json", ".xml", ".svg", ".txt", ".opml"})
GZIP_LEVEL = 6
BROTLI_QUALITY = 7
#: Encoding (as in config.PRECOMPRESS) → suffix of its copies.
SUFFIXES = {"gzip": ".gz", "br": ".br"}
COMPRESSED_SUFFIXES = frozenset(SUFFIXES.values())
#: The folder of Pagefind's bundles (search_index.FOLDER) and the file that marks one.
_SEARCH = "pagefind"
_BUNDLE_ENTRY = "pagefind-entry.json"


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        # wbits 31: a gzip stream whose header has no time and no name, so the bytes only depend
        # on the content (gzip.compress(mtime=0) does the same).
        packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        return packer.compress(data) + packer.flush()
    if encoding == "br" and _BROTLI is not None:
        return bytes(_BROTLI.compress(data, quality=BROTLI_QUALITY))
    raise PublishError(f"cannot compress with {encoding}")


def usable(encodings: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """The ``encodings`` this Python can write, and a warning for each it cannot."""
    if "br" in encodings and _BROTLI is None:
        return (tuple(e for e in encodings if e != "br"),
                ["site.precompress asks for brotli, but the brotli package is not installed: no "
                 ".br files are written (pip install brotli)"])
    return tuple(encodings), []


def is_text(relpath: str) -> bool:
    return os.path.splitext(relpath)[1].lower() in TEXT_TYPES


class PrecompressingWriter(OutputWriter):
    """An :class:`OutputWriter` that writes and keeps each text file's compressed copies with
    it. The copies belong to no article: they follow their file."""

    def __init__(self, root: Path, encodings: Sequence[str], *,
                 legacy_manifest: Path | None = None) -> None:
        super().__init__(root, legacy_manifest=legacy_manifest)
        self._suffixes = [(SUFFIXES[e], _packer(e)) for e in encodings]
        self._produced: set[str] = set()  # files given to write() or kept, in this build

    def write(self, relpath: str, data: bytes, **options: Any) -> bool:
        changed = super().write(relpath, data, **options)
        self._produced.add(relpath)
        if is_text(relpath):
            for suffix, pack in self._suffixes:
                # Unchanged content keeps its copy: compressing costs more than comparing.
                if changed or not super().keep(relpath + suffix):
                    super().write(relpath + suffix, pack(data))
        return changed

    def keep(self, relpath: str, **options: Any) -> bool:
        if not super().keep(relpath, **options):
            return False
        self._produced.add(relpath)
        if is_text(relpath):
            # A loop, not a comprehension: super() needs the method's own frame (Python 3.11).
            missing = []
            for suffix, pack in self._suffixes:
                if not super().keep(relpath + suffix):
                    missing.append((suffix, pack))
            if missing:
                data = self._read(relpath)
                for suffix, pack in missing:
                    super().write(relpath + suffix, pack(data))
        return True

    def finish(self, remove_stale: bool = True,
               keep_article: Callable[[str], bool] | None = None) -> WriteStats:
        if keep_article is not None:
            # The file of an article the archive does not know stays (see OutputWriter.finish):
            # its copies stay with it.
            for article, relpath in self.article_paths().items():
                if relpath not in self._produced and keep_article(article):
                    for suffix, _pack in self._suffixes:
                        super().keep(relpath + suffix)
        return super().finish(remove_stale, keep_article)

    def _read(self, relpath: str) -> bytes:
        """A kept file's bytes, to compress (keep() found it a regular file, rsspage's)."""
        try:
            return (self.root / relpath).read_bytes()
        except OSError as e:
            raise PublishError(f"cannot read {relpath}: {e.strerror or e}") from e


def _packer(encoding: str) -> Callable[[bytes], bytes]:
    return lambda data: compress(data, encoding)


def sync_search(root: Path, encodings: Sequence[str]) -> None:
    """Give the text files of Pagefind's bundles (its scripts and entry, at most one folder below
    ``pagefind/``) their compressed copies in ``encodings``, and remove the other copies."""
    folder = root / _SEARCH
    if folder.is_symlink() or not folder.is_dir():
        return
    wanted = {SUFFIXES[e]: e for e in encodings}
    try:
        bundles = [folder] + [p for p in folder.iterdir()
                              if p.name.isdigit() and (p / _BUNDLE_ENTRY).is_file()]
        for bundle in bundles:
            _sync_folder(bundle, wanted)
    except OSError as e:
        raise PublishError(f"cannot write the search index's compressed files: "
                           f"{e.strerror or e}") from e


def _sync_folder(folder: Path, wanted: dict[str, str]) -> None:
    """``wanted``: suffix → encoding of the copies to have."""
    names = {entry.name for entry in os.scandir(folder)
             if entry.is_file(follow_symlinks=False)}
    for name in sorted(names):
        base, suffix = os.path.splitext(name)
        if suffix in COMPRESSED_SUFFIXES and is_text(base):
            if suffix not in wanted or base not in names:  # off, or its file is gone
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
        elif is_text(name):
            for copy_suffix, encoding in wanted.items():
                if name + copy_suffix not in names:  # a bundle is replaced whole: never stale
                    data = compress((folder / name).read_bytes(), encoding)
                    replace_file(folder / (name + copy_suffix), data, durable=False)
