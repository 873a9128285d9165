"""The one way rsspage writes output files: safely, atomically, and only over its own files.

Rules every output (Hexo posts, the static site, feeds) gets from :class:`OutputWriter`:

- a path is POSIX and relative; its resolved target (symlinks followed) must stay inside the
  output root, and no path may be written twice in one build;
- rsspage never overwrites or deletes a file it did not write: what it wrote is recorded in a
  *manifest* (relpath → sha256, JSON in the state folder);
- a file is replaced atomically (temporary file in the same folder, then ``os.replace``) and only
  when its content changed, so unchanged files keep their mtime;
- ``finish()`` deletes the files of earlier builds that this build did not write, prunes the
  folders that became empty, and saves the manifest.

Crash safety: before a *new* file is created its path is appended to ``<manifest>.journal``, so a
build killed at any moment leaves every file it created known as rsspage's to the next run
(loading reads manifest ∪ journal); ``finish()`` folds the journal into the manifest. Files are
not fsync'ed unless ``durable=True``: a killed process loses nothing that ``os.replace`` made
visible, and only a power cut could leave a zero-length file, which the next build rewrites
because its size no longer matches the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from rsspage.errors import PublishError
from rsspage.publish.names import clash_key

_MANIFEST_VERSION = 1
#: Suffix of in-flight temporary files; a leftover one (after a kill) is swept by finish().
_TMP_SUFFIX = ".rsspage-tmp"


@dataclass(frozen=True, slots=True)
class WriteStats:
    """What one build did to the output folder."""

    #: Files created or rewritten because their content changed.
    written: int
    #: Files whose content was already on disk.
    unchanged: int
    #: Files of earlier builds removed because this build did not write them.
    removed: int


class OutputWriter:
    """Writes the files of one build into ``root``; call :meth:`finish` once at the end."""

    def __init__(self, root: Path, manifest_path: Path, *, durable: bool = False) -> None:
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._root = root.resolve(strict=True)
        except OSError as e:
            raise PublishError(f"cannot create output folder {root}: {e.strerror}") from e
        self._manifest_path = manifest_path
        self._journal_path = manifest_path.with_name(manifest_path.name + ".journal")
        self._durable = durable
        self._owned: dict[str, str] = _load_manifest(manifest_path)  # relpath → sha256
        # A journal left behind means the last build was killed: it may have left temporaries.
        self._recovering = self._journal_path.exists()
        for rel in _load_journal(self._journal_path):
            self._owned.setdefault(rel, "")  # digest unknown: the next write rewrites it
        self._owned_keys: dict[str, set[str]] = {}
        for rel in self._owned:
            self._owned_keys.setdefault(clash_key(rel), set()).add(rel)
        self._claimed: dict[str, str] = {}  # clash key → relpath written in this build
        self._journal: IO[str] | None = None
        self._written = self._unchanged = 0
        self._finished = False
        self._file_mode = _default_file_mode()

    @property
    def root(self) -> Path:
        return self._root

    def owns(self, relpath: str) -> bool:
        """Whether rsspage wrote ``relpath`` (in an earlier build or this one)."""
        return relpath in self._owned

    def is_free(self, relpath: str) -> bool:
        """Whether a new file may be put at ``relpath`` in this build.

        Free means: no path of this build clashes with it (case- and normalisation-insensitively),
        no owned path clashes with it under another spelling, and it is either ours or absent.
        """
        target = self._target(relpath)
        key = clash_key(relpath)
        if key in self._claimed:
            return False
        owned = self._owned_keys.get(key)
        if owned:
            return relpath in owned
        return not os.path.lexists(target)

    def write(self, relpath: str, data: bytes) -> bool:
        """Write ``data`` at ``relpath``; True when the file was (re)written, False if unchanged."""
        self._check_open()
        target = self._target(relpath)
        key = clash_key(relpath)
        if key in self._claimed:
            raise PublishError(f"{relpath}: written twice in one build (first as "
                               f"{self._claimed[key]})")
        digest = hashlib.sha256(data).hexdigest()
        if relpath in self._owned:
            if self._owned[relpath] == digest and _same_size(target, len(data)):
                self._claim(relpath, key, digest)
                self._unchanged += 1
                return False
        elif os.path.lexists(target):
            raise PublishError(f"{relpath}: a file rsspage did not write is already there; "
                               "refusing to overwrite it")
        else:
            self._journal_new(relpath)
        self._open_journal()  # its existence marks a build in progress, even with no new file
        self._replace(relpath, target, data)
        self._claim(relpath, key, digest)
        self._written += 1
        return True

    def keep(self, relpath: str) -> bool:
        """Count an owned, unchanged file as produced by this build without rendering it again.

        Returns False when it cannot be kept (not ours, content unknown, or gone from disk):
        the caller must then render and :meth:`write` it.
        """
        self._check_open()
        key = clash_key(relpath)
        if key in self._claimed:
            raise PublishError(f"{relpath}: written twice in one build")
        digest = self._owned.get(relpath)
        if not digest or not os.path.isfile(self._target(relpath)):
            return False
        self._claim(relpath, key, digest)
        self._unchanged += 1
        return True

    def finish(self, remove_stale: bool = True) -> WriteStats:
        """Remove owned files not written in this build, save the manifest, drop the journal."""
        self._check_open()
        self._finished = True
        failures: list[str] = []
        removed = self._remove_stale(failures) if remove_stale else 0
        if self._recovering:
            self._sweep_temporaries()
        self._save_manifest()
        if failures:
            raise PublishError("could not remove: " + "; ".join(failures))
        return WriteStats(written=self._written, unchanged=self._unchanged, removed=removed)

    # -- paths ------------------------------------------------------------------------------

    def _target(self, relpath: str) -> Path:
        """The absolute path for ``relpath``, refusing anything that could leave the root."""
        pure = PurePosixPath(relpath)
        parts = relpath.split("/")
        if (not relpath or pure.is_absolute() or "\\" in relpath or "\0" in relpath
                or any(part in ("", ".", "..") for part in parts)):
            raise PublishError(f"{relpath!r}: not a plain relative POSIX path")
        target = self._root.joinpath(*parts)
        try:
            resolved = target.resolve()
        except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop on Python < 3.13
            raise PublishError(f"{relpath}: cannot resolve path: {e}") from e
        if not resolved.is_relative_to(self._root):
            raise PublishError(f"{relpath}: leads outside the output folder {self._root}")
        return target

    def _claim(self, relpath: str, key: str, digest: str) -> None:
        self._claimed[key] = relpath
        self._owned[relpath] = digest
        self._owned_keys.setdefault(key, set()).add(relpath)

    # -- file operations --------------------------------------------------------------------

    def _open_journal(self) -> IO[str]:
        if self._journal is None:
            try:
                self._journal_path.parent.mkdir(parents=True, exist_ok=True)
                self._journal = self._journal_path.open("a", encoding="utf-8")
            except OSError as e:
                raise PublishError(f"cannot open journal {self._journal_path}: {e.strerror}") from e
        return self._journal

    def _journal_new(self, relpath: str) -> None:
        """Record ``relpath`` as ours before the file exists (crash safety)."""
        journal = self._open_journal()
        try:
            # JSON keeps any character of a path on one line; one write call per entry.
            journal.write(json.dumps(relpath, ensure_ascii=False) + "\n")
            journal.flush()
            if self._durable:
                os.fsync(journal.fileno())
        except OSError as e:
            raise PublishError(f"cannot write journal {self._journal_path}: {e.strerror}") from e

    def _replace(self, relpath: str, target: Path, data: bytes) -> None:
        """Atomically put ``data`` at ``target``; on failure the old file stays as it was."""
        tmp: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:80]}.", suffix=_TMP_SUFFIX,
                                       dir=target.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self._durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.chmod(tmp, self._file_mode)  # mkstemp makes 0600; web servers need to read it
            os.replace(tmp, target)
        except OSError as e:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise PublishError(f"cannot write {relpath}: {e.strerror or e}") from e

    def _remove_stale(self, failures: list[str]) -> int:
        removed = 0
        claimed = set(self._claimed.values())
        for relpath in sorted(set(self._owned) - claimed):
            try:
                target = self._target(relpath)
                if self._is_claimed_file(relpath, target):
                    del self._owned[relpath]  # forget it: deleting would delete the new file
                    continue
                target.unlink(missing_ok=True)
            except (OSError, PublishError) as e:
                failures.append(f"{relpath}: {getattr(e, 'strerror', None) or e}")
                continue
            del self._owned[relpath]
            removed += 1
            self._prune_dirs(target.parent)
        return removed

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

    def _prune_dirs(self, folder: Path) -> None:
        while folder != self._root and folder.is_relative_to(self._root):
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or not ours to remove): stop climbing
            folder = folder.parent

    def _sweep_temporaries(self) -> None:
        """Delete temporary files a killed build left in the folders we write to."""
        folders = {(self._root / rel).parent for rel in self._owned}
        for folder in folders:
            with contextlib.suppress(OSError):
                for leftover in folder.glob(f".*{_TMP_SUFFIX}"):
                    leftover.unlink(missing_ok=True)

    def _save_manifest(self) -> None:
        if self._journal is not None:
            with contextlib.suppress(OSError):
                self._journal.close()
        body = {"version": _MANIFEST_VERSION, "files": dict(sorted(self._owned.items()))}
        data = json.dumps(body, ensure_ascii=False, indent=0).encode("utf-8")
        folder = self._manifest_path.parent
        tmp: str | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self._manifest_path.name}.", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # one fsync per build: the manifest is what must survive
            os.replace(tmp, self._manifest_path)
            self._journal_path.unlink(missing_ok=True)
        except OSError as e:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise PublishError(f"cannot save manifest {self._manifest_path}: {e.strerror}") from e

    def _check_open(self) -> None:
        if self._finished:
            raise PublishError("this build is finished; start a new OutputWriter")


def _same_size(target: Path, size: int) -> bool:
    try:
        st = target.lstat()
    except OSError:
        return False
    return target.is_file() and not target.is_symlink() and st.st_size == size


def _load_manifest(path: Path) -> dict[str, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise PublishError(f"cannot read manifest {path}: {e.strerror}") from e
    try:
        body = json.loads(raw)
        files = body["files"]
        if body.get("version") != _MANIFEST_VERSION or not isinstance(files, dict):
            raise ValueError("unknown layout")
        return {str(k): str(v) for k, v in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        # Forgetting what we own would only make us refuse to touch our own files, but guessing
        # could make us delete someone else's: stop and let the user decide.
        raise PublishError(f"manifest {path} is damaged ({e}); move it away to start over") from e


def _load_journal(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as e:
        raise PublishError(f"cannot read journal {path}: {e.strerror}") from e
    paths: list[str] = []
    for line in text.split("\n")[:-1]:  # the last piece has no newline: a cut-off entry
        try:
            rel = json.loads(line)
        except ValueError:
            continue
        if isinstance(rel, str):
            paths.append(rel)
    return paths


def _default_file_mode() -> int:
    # os.umask can only be read by setting it; done once per writer, before any thread writes.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
