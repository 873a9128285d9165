"""Precompressed copies of the site's text files (``site.precompress``), for servers that send
them as they are (nginx ``gzip_static`` / ``brotli_static``, Caddy ``precompressed``) instead of
compressing each answer.

``index.html`` gets ``index.html.gz`` and/or ``index.html.br`` beside it; only text files
(:data:`TEXT_TYPES`): Pagefind's ``.pf_*`` files and its WebAssembly are gzip already.

The copies of the files rsspage writes go through the output writer like any file, so they are
owned (in the manifest) and never left stale: a file written in this build gets new copies, a file
kept unchanged keeps its copies (made once from the file on disk when it has none, e.g. the build
after precompress was switched on), and a copy no build wrote any more (its file is gone, or
its encoding is no longer asked for) is removed by ``finish()``, folder by folder (a
:class:`PrecompressingWriter` without encodings removes them all). Pagefind's bundles are not the
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
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rsspage.errors import PublishError
from rsspage.fileio import replace_file
from rsspage.publish.names import clash_key
from rsspage.publish.relpaths import prune_empty
from rsspage.publish.staging import StagedFile
from rsspage.publish.write_stats import WriteStats
from rsspage.publish.writer import OutputWriter

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
_COPY_ENDINGS = tuple(sorted(COMPRESSED_SUFFIXES))
#: Threads that unlink stale copies, each in a folder of its own (see
#: PrecompressingWriter._remove_stale).
_REMOVERS = 4
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
    it. The copies belong to no article: they follow their file. With no ``encodings`` it writes
    none and removes those of earlier builds (quicker than :class:`OutputWriter`, which removes
    them one by one as any file: see :meth:`_remove_stale`)."""

    def __init__(self, root: Path, encodings: Sequence[str], *,
                 manifest_path: Path | None = None, legacy_manifest: Path | None = None,
                 whole: bool = False) -> None:
        super().__init__(root, manifest_path, legacy_manifest=legacy_manifest, whole=whole)
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

    def staging_folder(self) -> int | None:
        # Compressed copies need the bytes here: workers' files are for a site without them.
        return None if self._suffixes else super().staging_folder()

    def adopt(self, relpath: str, staged: StagedFile, **options: Any) -> bool:
        changed = super().adopt(relpath, staged, **options)
        self._produced.add(relpath)
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

    def _followers(self, relpath: str) -> tuple[str, ...]:
        # Every encoding's: the copies of a setting turned off go with their file too.
        return tuple(relpath + ending for ending in _COPY_ENDINGS) if is_text(relpath) else ()

    def _remove_stale(self, failures: list[str], kept: set[str]) -> int:
        """The writer's removal of the files this build did not write (``finish()`` calls it
        once the new files are in place, before the manifest is saved), the stale copies first.

        Turning precompress off or dropping an encoding leaves a copy per text file: 22,000 per
        encoding in a 20,000-article site. The writer removes a file by its full path, resolved
        (checked inside the root), unlinked and its folder pruned one at a time: 0.3 ms of CPU a
        file, 36 s for 44,000 copies with the disk's waits. Here each folder is opened (checked)
        and scanned once, its copies are unlinked relative to it and it is pruned once; the
        unlinks of :data:`_REMOVERS` folders at a time run in threads, since an unlink mostly
        waits for the file system's journal (measured: 150 µs of wall time against 45 µs of
        CPU, 67 µs with 4 threads), and unlinks in different folders wait together.

        A copy that is not a regular file now (a link, a folder), one in a folder that cannot be
        opened as one (gone is fine: so are its files), and one that is another spelling of a
        file written in this build are left to the writer's removal, which judges them."""
        removed = 0
        stale = self._stale_copies(kept)
        failed: set[str] = set()  # the writer is not to try these again in this build
        if stale:
            try:
                removed = self._remove_copies(stale, failures, failed)
            finally:
                self._folders.close()
        return removed + super()._remove_stale(failures, kept | failed)

    def _stale_copies(self, kept: set[str]) -> dict[str, list[str]]:
        """Folder → names of the copies owned but not written or kept in this build."""
        stale: dict[str, list[str]] = {}
        for relpath in self._stale_paths(kept):
            if (relpath.endswith(_COPY_ENDINGS) and is_text(relpath[:relpath.rindex(".")])
                    and clash_key(relpath) not in self._claimed):
                folder, _, name = relpath.rpartition("/")
                stale.setdefault(folder, []).append(name)
        return stale

    def _remove_copies(self, stale: dict[str, list[str]], failures: list[str],
                       failed: set[str]) -> int:
        removed = 0
        # Unlinks under way: (folder, names found gone, the unlinks' outcome). Bounded, as each
        # holds a descriptor of its folder.
        pending: deque[tuple[str, list[str], Future[list[tuple[str, str]]]]] = deque()
        with ThreadPoolExecutor(_REMOVERS, thread_name_prefix="rsspage-unlink") as pool:
            for folder, names in sorted(stale.items()):
                try:
                    dir_fd, files = self._open_listed(folder, names[0])
                except FileNotFoundError:  # the folder is gone, and its copies with it
                    removed += self._settle(folder, names, None, failures, failed)
                    continue
                except (OSError, PublishError):
                    continue  # not a folder, or outside the root: the writer says so
                gone = [name for name in names if name not in files]
                present = [name for name in names if files.get(name)]  # regular files
                pending.append((folder, gone, pool.submit(_unlink_all, dir_fd, present)))
                while len(pending) > 2 * _REMOVERS:
                    removed += self._settle(*pending.popleft(), failures, failed)
            while pending:
                removed += self._settle(*pending.popleft(), failures, failed)
        return removed

    def _open_listed(self, folder: str, relpath: str) -> tuple[int, dict[str, bool]]:
        """A descriptor of ``folder`` of its own (for a thread that unlinks in it), checked like
        every folder the writer writes in, and the folder's entries: name → whether it is a
        regular file."""
        checked = self._folders.open(folder, relpath, create=False)
        with os.scandir(checked) as it:
            files = {e.name: e.is_file(follow_symlinks=False) for e in it}
        return os.dup(checked), files

    def _settle(self, folder: str, gone: list[str],
                unlinking: Future[list[tuple[str, str]]] | None, failures: list[str],
                failed: set[str]) -> int:
        """Forget the copies of ``folder`` that are gone now (``gone``, and those ``unlinking``
        removed); count them. Those it could not remove stay rsspage's (in ``failed``): the
        next build tries again."""
        prefix = folder + "/" if folder else ""
        done = list(gone)
        for name, error in unlinking.result() if unlinking is not None else ():
            if error:
                failures.append(f"{prefix}{name}: {error}")
                failed.add(prefix + name)
            else:
                done.append(name)
        for name in done:
            self._forget(prefix + name)
        if done and folder:
            prune_empty(self.root / folder, self.root)
        return len(done)

    def _read(self, relpath: str) -> bytes:
        """A kept file's bytes, to compress (keep() found it a regular file, rsspage's)."""
        try:
            return (self.root / relpath).read_bytes()
        except OSError as e:
            raise PublishError(f"cannot read {relpath}: {e.strerror or e}") from e


def _unlink_all(dir_fd: int, names: list[str]) -> list[tuple[str, str]]:
    """Unlink ``names`` in the folder ``dir_fd`` (closed after): each name with "" when it is
    gone (or was already), else why not."""
    outcome = []
    try:
        for name in names:
            try:
                os.unlink(name, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            except OSError as e:
                outcome.append((name, str(e.strerror or e)))
                continue
            outcome.append((name, ""))
    finally:
        os.close(dir_fd)
    return outcome


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
