"""The one way rsspage writes output files: safely, atomically, and only over its own files.

Rules every output (Hexo posts, the static site, feeds) gets from :class:`OutputWriter`:

- a path is POSIX and relative; its resolved target (symlinks followed) must stay inside the
  output root, and no path may be written twice in one build;
- rsspage never overwrites or deletes a file it did not write: what it wrote is recorded in a
  *manifest* inside the output folder (:mod:`rsspage.publish.manifest`), so ownership survives
  a lost state folder;
- a file written for an article (``article=`` id) is removed, once no build writes it, only
  when the caller says the article is gone on purpose: the files of articles a younger state
  does not know are kept (``kept_unknown``) until it knows them again;
- :meth:`~OutputWriter.write` only *stages* a file (a temporary file in the same folder), and
  ``finish()`` puts every staged file in place (``os.replace``): a build that fails before that
  (a full disk, a template error) is dropped with :meth:`~OutputWriter.abort` and leaves the
  previous files as they were, not a mix of old and new pages (only a rename failing half way
  through ``finish()``, e.g. a folder deleted meanwhile, leaves some files new);
- a file is rewritten only when its content changed, so unchanged files keep their mtime;
- a file may carry a digest of what it was rendered from (``set_inputs``), saved in the manifest
  with its sha256, so that a later build can :meth:`~OutputWriter.keep` it without rendering it;
- ``finish()`` then deletes the files of earlier builds that this build did not write, prunes
  the folders that became empty, and saves the manifest (unless it says so already).

Crash safety: the paths of *new* files staged in their folders, and of every file ``finish()``
puts in place, are appended to ``<manifest>.journal`` first (one ``os.write`` to an ``O_APPEND``
descriptor: in the page cache before any file changes, so a killed process loses nothing). A
build killed at any moment leaves every file it created known as rsspage's to the next run, and
every file it may have replaced with a digest unknown (loading reads the manifest, then the
journal), so the next build rewrites those; it also sweeps the temporaries left behind.
``finish()`` folds the journal into the manifest; ``abort()`` takes the paths it never created
out of it again. Files are not fsync'ed unless ``durable=True``: a killed process loses nothing
that ``os.replace`` made visible, and only a power cut could leave a zero-length file, which the
next build rewrites because its size no longer matches the manifest.

Speed and symlinks: files are written relative to open, checked descriptors of their folders
(:mod:`rsspage.publish.folders`), so no symlink swapped in can lead a write out of the root.
POSIX only (``dir_fd`` support), like the rest of rsspage.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Callable, Collection
from functools import partial
from pathlib import Path

from rsspage.errors import PublishError
from rsspage.publish import manifest as manifests
from rsspage.publish import staging, table_map
from rsspage.publish.folders import Folders
from rsspage.publish.journal import Journal, journal_temporary
from rsspage.publish.names import Spellings, clash_key
from rsspage.publish.relpaths import is_file as _is_file
from rsspage.publish.relpaths import lstat_at as _lstat_at
from rsspage.publish.relpaths import prune_empty, sweep_temporaries
from rsspage.publish.relpaths import split as _split
from rsspage.publish.write_stats import WriteStats


class OutputWriter:
    """Writes the files of one build into ``root``; call :meth:`finish` once at the end."""

    def __init__(self, root: Path, manifest_path: Path | None = None, *,
                 legacy_manifest: Path | None = None, durable: bool = False,
                 whole: bool = False) -> None:
        """``manifest_path``: ``<root>/.rsspage-manifest.json`` by default; ``legacy_manifest``
        and ``whole``: see manifest.load_or_earlier."""
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._root = root.resolve(strict=True)
        except OSError as e:
            raise PublishError(f"cannot create output folder {root}: {e.strerror}") from e
        self._root_prefix = str(self._root) + os.sep
        self._manifest_path = manifest_path or self._root / manifests.NAME
        self._earlier = [m for m in (self._root / manifests.NAME, legacy_manifest)
                         if m is not None and m != self._manifest_path]
        journal_path, loaded = manifests.load_or_earlier(self._manifest_path, self._earlier, whole)
        try:
            self._start(loaded, journal_path, durable)
        except BaseException:
            loaded.close()  # a manifest in SQLite is open
            raise

    def _start(self, loaded: manifests.Manifest, journal_path: Path, durable: bool) -> None:
        """The build's state, from the manifest and the journal it starts from."""
        self._records = loaded
        self._owned = loaded.files  # relpath → sha256
        self._articles = loaded.articles  # relpath → article id
        self._inputs = loaded.inputs  # relpath → digest of what it came from
        # A journal left behind means the last build was killed: it may have left temporaries.
        self._recovering = journal_path.exists()
        journaled, cut = manifests.load_journal(journal_path)
        self._journal = Journal(journal_path, cut=cut, durable=durable,
                                temporary=journal_temporary(self._manifest_path))
        for rel in journaled:
            # A new file, or one a killed build may have replaced: its digest is unknown, so
            # the next write rewrites it and keep() refuses it.
            self._owned[rel] = ""
        # Owned with an unknown digest (keep_others removes them): journaled, or saved so.
        self._unknown = {*journaled, *table_map.with_value(self._owned, "")}
        # keep_others(): the paths that may go (None: every owned file this build did not
        # write or keep goes).
        self._only_stale: set[str] | None = None
        self._spellings = Spellings(self._owned)  # the owned paths by clash key
        for rel in manifests.respelled(self._owned):
            self._spellings.add(clash_key(rel), rel)
        self._claimed: dict[str, str] = {}  # clash key → relpath written in this build
        self._claimed_paths: set[str] = set()  # their relpaths (set_inputs)
        self._folders = Folders(self._root)  # open, checked folder descriptors
        self._temps = staging.Temporaries(self._folders, durable=durable)
        self._new: set[str] = set()  # staged paths that were not ours before this build
        self._listings: dict[str, frozenset[str]] = {}  # folder → its regular files (keep())
        self._written = self._unchanged = self._kept = 0
        self._finished = False
        self._dropped = False  # finish() or abort() is done: nothing more to undo

    @property
    def root(self) -> Path:
        return self._root

    def article_paths(self) -> dict[str, str]:
        """Article id → relpath of the files earlier builds wrote for articles."""
        return {article: rel for rel, article in self._articles.items() if rel in self._owned}

    def owns(self, relpath: str) -> bool:
        """Whether rsspage wrote ``relpath`` (in an earlier build or this one)."""
        return relpath in self._owned

    def digest(self, relpath: str) -> str:
        """The sha256 of what rsspage wrote at ``relpath``; "" when not ours or unknown (a
        killed build may have replaced it)."""
        return self._owned.get(relpath, "")

    def read_owned(self, relpath: str) -> bytes | None:
        """The bytes at ``relpath`` if they are what rsspage wrote there (the manifest's sha256,
        read through the checked folders); None when not ours, unknown, changed or unreadable."""
        digest = self._owned.get(relpath)
        if not digest or relpath in self._claimed_paths:
            return None
        folder, name = _split(relpath)
        try:
            dir_fd = self._folders.open(folder, relpath, create=False)
            # O_NONBLOCK: a FIFO put there would block the open; it is then no regular file
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as file:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return None
                data = file.read()
        except (OSError, PublishError):
            return None
        return data if hashlib.sha256(data).hexdigest() == digest else None

    def inputs(self, relpath: str) -> str:
        """What the file at ``relpath`` was rendered from (:meth:`set_inputs`); "" if unknown."""
        return self._inputs.get(relpath, "")

    def set_inputs(self, relpath: str, inputs: str) -> None:
        """Record a digest of what the file at ``relpath``, written or kept in this build, was
        rendered from; saved in the manifest with its sha256. (A file written or kept without
        this has none: they always describe the content the manifest vouches for.)"""
        if relpath not in self._claimed_paths:
            raise PublishError(f"{relpath}: not written or kept in this build")
        self._inputs[relpath] = inputs

    def changed_on_disk(self, relpath: str) -> None:
        """The caller found the file at ``relpath`` changed on disk: the next :meth:`write`
        rewrites it even if its size and the manifest's sha256 match the new content."""
        if relpath in self._owned:
            self._owned[relpath] = ""
            self._unknown.add(relpath)

    def is_free(self, relpath: str) -> bool:
        """Whether a new file may be put at ``relpath`` in this build.

        Free means: no path of this build clashes with it (case- and normalisation-insensitively),
        no owned path clashes with it under another spelling, and it is either ours or absent.
        (Where a free path leads is checked by :meth:`write`.)
        """
        _split(relpath)
        key = clash_key(relpath)
        if key in self._claimed:
            return False
        owned = self._spellings.of(key)
        if owned:
            return relpath in owned
        return self._lstat(relpath) is None

    def write(self, relpath: str, data: bytes, *, article: str | None = None) -> bool:
        """Stage ``data`` for ``relpath`` (the file of ``article``, an id, if it is one's); True
        when the file will be (re)written by ``finish()``, False when it is unchanged on disk."""
        self._check_open()

        def stage(folder: str, name: str) -> None:
            self._temps.write(relpath, folder, name, self._folders.open(folder, relpath), data)

        return self._put(relpath, hashlib.sha256(data).hexdigest(), len(data), article, stage)

    def staging_folder(self) -> int | None:
        """The open staging folder (:mod:`.staging`) that render workers write pages into, for
        :meth:`adopt`; None when this writer cannot take their files (a durable writer: they
        are not fsync'ed)."""
        self._check_open()
        return self._temps.staging_folder()

    def adopt(self, relpath: str, staged: staging.StagedFile, *,
              article: str | None = None) -> bool:
        """Like :meth:`write`, for ``staged``: a temporary a worker wrote into the
        :meth:`staging_folder`. It is renamed into place by ``finish()`` (or copied, into a
        folder on another file system), or deleted when the file on disk is the same already."""
        self._check_open()
        changed = self._put(relpath, staged.digest, staged.size, article,
                            partial(self._temps.adopt, relpath, staged=staged), adopted=True)
        if not changed:
            self._temps.discard(staged)
        return changed

    def _put(self, relpath: str, digest: str, size: int, article: str | None,
             stage: Callable[[str, str], None], *, adopted: bool = False) -> bool:
        """The checks and records of :meth:`write` for content of ``digest`` and ``size``;
        ``stage(folder, name)`` makes its temporary. A new path is journaled before its folders
        or its temporary are made; ``adopted``: a worker made it in the staging folder, and the
        path is journaled with what finish() puts in place, which makes its folders."""
        folder, name = _split(relpath)
        key = self._unclaimed(relpath)
        st = self._locate(relpath, folder, name, create=not adopted)
        if relpath in self._owned:
            if self._owned[relpath] == digest and _is_file(st, size):
                self._claim(relpath, key, digest, article)
                self._unchanged += 1
                return False
        elif st is not None:
            raise PublishError(f"{relpath}: a file rsspage did not write is already there; "
                               "refusing to overwrite it")
        else:
            self._journal.record([relpath], later=adopted)
            self._new.add(relpath)
        self._journal.open()  # its existence marks a build in progress, even with no new file
        stage(folder, name)
        self._claim(relpath, key, digest, article)
        self._written += 1
        return True

    def keep(self, relpath: str, *, article: str | None = None) -> bool:
        """Count an owned, unchanged file as produced by this build without rendering it again.

        Returns False when it cannot be kept (not ours, content unknown, or gone from disk):
        the caller must then render and :meth:`write` it.
        """
        self._check_open()
        folder, name = _split(relpath)
        key = self._unclaimed(relpath)
        digest = self._owned.get(relpath)
        if not digest or name not in self._files_in(folder):
            return False
        self._claim(relpath, key, digest, article)
        self._unchanged += 1
        self._kept += 1
        return True

    def keep_others(self, remove: Collection[str]) -> None:
        """Keep every owned file this build has not written or kept, but ``remove`` (and the
        files that :meth:`_followers` give), unchecked on disk (``build --full`` checks): for a
        build of only what changed, whose :meth:`finish` must remove just ``remove``. Call it
        last, before :meth:`finish`; it costs what ``remove`` holds, not what the folder does.

        Also go: files whose digest is unknown (a killed build's), and the other spellings of
        a path written in this build or owned under several (finish() judges them)."""
        self._check_open()
        self._only_stale = {f for rel in (*remove, *self._unknown)
                            for f in (rel, *self._followers(rel))}
        for key, spellings in self._spellings.twins.items():  # rare: equal but for case
            eligible = sorted(p for p in spellings if p not in self._only_stale)
            stays = None if key in self._claimed or not eligible else eligible[0]
            self._only_stale.update(p for p in spellings if p != stays)

    def _followers(self, relpath: str) -> tuple[str, ...]:
        """The files that belong to ``relpath`` and go with it (compressed copies)."""
        return ()

    def _stale_paths(self, kept: Collection[str]) -> list[str]:
        """The owned files this build did not write or keep, but ``kept``: to be removed."""
        claimed = self._claimed_paths
        if self._only_stale is None:  # every owned path (read in one pass)
            return sorted(rel for rel in self._owned if rel not in claimed and rel not in kept)
        return sorted(rel for rel in self._only_stale
                      if rel in self._owned and rel not in claimed and rel not in kept)

    def _files_in(self, folder: str) -> frozenset[str]:
        """Names of the regular files in ``folder``, read once per build: keep() asks for
        every unchanged page (one directory read instead of 20,000 ``lstat``)."""
        files = self._listings.get(folder)
        if files is None:
            # Nothing is written here, so where a folder link leads does not matter.
            try:
                with os.scandir(self._root_prefix + folder if folder else self._root) as it:
                    files = frozenset(e.name for e in it if e.is_file(follow_symlinks=False))
            except (FileNotFoundError, NotADirectoryError):
                files = frozenset()
            except OSError as e:
                raise PublishError(f"cannot read {folder}: {e.strerror or e}") from e
            self._listings[folder] = files
        return files

    def finish(self, remove_stale: bool = True,
               keep_article: Callable[[str], bool] | None = None) -> WriteStats:
        """Put the staged files in place, remove owned files not written in this build, save
        the manifest, drop the journal. Old files that could not be removed do not make it
        fail (the new ones are in place): see :meth:`WriteStats.check`.

        ``keep_article(id)`` True: the file of that article stays although this build did not
        write it (the archive does not know the article, and did not remove it on purpose)."""
        self._check_open()
        self._finished = True
        try:
            self._commit_staged()
        finally:
            self._temps.remove_staging()
            self._folders.close()
        failures: list[str] = []
        if self._recovering:  # before stale files go: their folders may hold temporaries
            self._sweep_temporaries()
        kept = self._keep_unknown(keep_article) if keep_article else set()
        if self._only_stale is not None:  # keep_others(): the rest stays as it is
            stays = len(self._owned) - len(self._claimed_paths) - len(self._stale_paths(()))
            self._unchanged += stays
            self._kept += stays
        removed = self._remove_stale(failures, kept) if remove_stale else 0
        self._save_manifest()
        self._dropped = True  # a late abort() (from __del__) must not touch the journal again
        return WriteStats(written=self._written, unchanged=self._unchanged, removed=removed,
                          not_removed=tuple(failures), kept_unknown=len(kept), kept=self._kept)

    def abort(self) -> None:
        """Drop this build: delete its staged files, leave the output as it was.

        Paths it would have created are taken out of the journal again (a file someone puts
        there later is not rsspage's); the journal stays if a temporary could not be deleted
        (the next build sweeps it) or a file was replaced, and goes when it is left empty: it
        lives in the output folder, which a failed build leaves as it was.
        """
        if self._dropped:
            return
        self._finished = self._dropped = True
        clean = self._temps.drop() and not self._recovering
        self._temps.remove_staging()
        self.close()
        with contextlib.suppress(OSError, PublishError):
            self._journal.remove({rel for rel in self._new if self._lstat(rel) is None})
            if clean and self._journal.path.stat().st_size == 0:
                self._journal.path.unlink()
        self._new.clear()

    def close(self) -> None:
        """Release the open descriptors (finish() and abort() do)."""
        self._temps.close()
        self._folders.close()
        self._journal.close()
        self._records.close()

    def __del__(self) -> None:
        # A build that failed half-way and was dropped without finish() changes nothing, and
        # leaks no descriptors (``rsspage serve`` rebuilds in one long-lived process).
        with contextlib.suppress(Exception):
            self.abort()

    # -- paths ------------------------------------------------------------------------------

    def _unclaimed(self, relpath: str) -> str:
        """The clash key of ``relpath``, refusing a path (or a twin) written in this build and
        the names of rsspage's own records."""
        key = clash_key(relpath)
        if key in self._claimed:
            raise PublishError(f"{relpath}: written twice in one build (first as "
                               f"{self._claimed[key]})")
        if relpath.startswith(manifests.RESERVED):
            raise PublishError(f"{relpath}: reserved for rsspage's records of its files")
        return key

    def _locate(self, relpath: str, folder: str, name: str, *,
                create: bool) -> os.stat_result | None:
        """What is at ``name`` in the folder of ``relpath``, opened and checked (and made, with
        ``create``; without, a folder not there yet holds nothing)."""
        try:
            st = _lstat_at(name, self._folders.open(folder, relpath, create=create))
        except OSError as e:
            if isinstance(e, FileNotFoundError) and not create:
                return None
            raise PublishError(f"cannot write {relpath}: {e.strerror or e}") from e
        if st is not None and stat.S_ISLNK(st.st_mode):
            # a link inside the root may be replaced by our file
            self._folders.check_inside(relpath)
        elif st is not None and stat.S_ISDIR(st.st_mode):
            # Found now rather than when finish() puts the files in place.
            cause = IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            raise PublishError(f"cannot write {relpath}: {cause.strerror}") from cause
        return st

    def _target(self, relpath: str) -> Path:
        """The absolute path for ``relpath``, checked to stay inside the root (for removals)."""
        _split(relpath)
        self._folders.check_inside(relpath)
        return self._root.joinpath(*relpath.split("/"))

    def _lstat(self, relpath: str) -> os.stat_result | None:
        try:
            return os.lstat(self._root_prefix + relpath)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise PublishError(f"cannot read {relpath}: {e.strerror or e}") from e

    def _claim(self, relpath: str, key: str, digest: str, article: str | None) -> None:
        """``relpath`` is this build's (the file of ``article``, if it is one's)."""
        self._claimed[key] = relpath
        self._claimed_paths.add(relpath)
        self._owned[relpath] = digest
        self._spellings.add(key, relpath)
        if article is None:
            self._articles.pop(relpath, None)
        else:
            self._articles[relpath] = article
        self._inputs.pop(relpath, None)  # until set_inputs() says what it came from

    # -- file operations --------------------------------------------------------------------

    def _commit_staged(self) -> None:
        """Put every staged file in place; on a failure the rest are dropped (abort()).

        Files about to be replaced are journaled first: after a kill half way, the manifest
        would otherwise vouch for their old content.
        """
        if not self._temps:
            return  # nothing to replace: no journal, so an unchanged manifest stays as it is
        self._journal.record(p for p in self._temps.paths() if p not in self._new)
        try:
            self._temps.put_in_place()
        except PublishError:
            self.abort()
            raise

    def _keep_unknown(self, keep_article: Callable[[str], bool]) -> set[str]:
        """The owned files not written in this build whose article ``keep_article`` keeps."""
        return {rel for rel in self._stale_paths(())
                if (article := self._articles.get(rel)) is not None and keep_article(article)}

    def _remove_stale(self, failures: list[str], kept: set[str]) -> int:
        removed = 0
        for relpath in self._stale_paths(kept):
            try:
                target = self._target(relpath)
                if self._is_claimed_file(relpath, target):
                    self._forget(relpath)  # deleting it would delete the new file
                    continue
                target.unlink(missing_ok=True)
            except (OSError, PublishError) as e:
                failures.append(f"{relpath}: {getattr(e, 'strerror', None) or e}")
                continue
            self._forget(relpath)
            removed += 1
            prune_empty(target.parent, self._root)
        return removed

    def _forget(self, relpath: str) -> None:
        """``relpath`` is no longer ours: its records go."""
        del self._owned[relpath]
        self._articles.pop(relpath, None)
        self._inputs.pop(relpath, None)

    def _is_claimed_file(self, relpath: str, target: Path) -> bool:
        """Whether ``relpath`` is another spelling of a file written in this build (which it is
        on a case- or normalisation-insensitive file system)."""
        twin = self._claimed.get(clash_key(relpath))
        if twin is None:
            return False
        try:
            return os.path.samefile(target, self._root / twin)
        except OSError:
            return False

    def _sweep_temporaries(self) -> None:
        """Delete temporary files a killed or failed build left in the folders of our files."""
        sweep_temporaries({(self._root / rel).parent for rel in self._owned})

    def _save_manifest(self) -> None:
        self._journal.close()
        try:  # JSON: only when its bytes change; SQLite: what changed
            manifests.save(self._manifest_path, self._records)
        finally:
            self._records.close()
        for earlier in self._earlier:  # read, or left behind by an earlier version
            manifests.remove_legacy(earlier)

    def _check_open(self) -> None:
        if self._finished:
            raise PublishError("this build is finished; start a new OutputWriter")
