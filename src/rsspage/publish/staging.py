"""Staged files: a build's output written as temporaries, put in place together at the end.

:class:`Temporaries` holds them for an :class:`~rsspage.publish.writer.OutputWriter`: each file
written as a temporary in its own folder, renamed over its target only when the build
finishes, or deleted when it is dropped (the writer decides which, and journals the paths).

Files that render workers write (issue 10): a full build renders its pages in worker processes
(render_pool.py). When each page's bytes went back to the build's own process to be written
there, that one process became the bottleneck: creating 22,000 files is about a third of a full
build, and the workers waited for it. So each worker writes the pages it renders as temporaries
into one *staging folder*, ``.rsspage-staging`` at the top of the output folder (a name
reserved for rsspage's records), and sends back only their names, sizes and sha256. The writer
adopts them (:meth:`~rsspage.publish.writer.OutputWriter.adopt`): the same checks as a file it
writes itself, and ``finish()`` renames them into their folders with its other staged files.

Nothing in the staging folder is published: ``finish()`` and ``abort()`` empty it and remove
it, and a build killed half way leaves only temporaries there, which the next build's writer
sweeps (it checks for the folder whenever it finishes).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from rsspage.errors import PublishError
from rsspage.fileio import TMP_SUFFIX, write_and_close
from rsspage.publish.folders import Folders

NAME = ".rsspage-staging"
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A temporary in the staging folder, written for one output file."""

    name: str
    size: int
    #: sha256 of its content, hex (what the manifest records).
    digest: str


def open_folder(root_fd: int) -> int:
    """The staging folder in the output folder ``root_fd``: created, emptied of what a killed
    build left there, and opened (never through a symlink)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(NAME, 0o700, dir_fd=root_fd)
    try:
        fd = os.open(NAME, _FOLDER_FLAGS, dir_fd=root_fd)
    except OSError as e:
        if e.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        raise PublishError(f"{NAME}: a file or a link has this name, which rsspage keeps for "
                           "its own folder: remove it") from e
    try:
        _empty(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_folder(root_fd: int) -> None:
    """Empty and remove the staging folder, if there is one (a killed build's, or this one's:
    a temporary no one adopted goes too). Raises OSError."""
    try:
        fd = os.open(NAME, _FOLDER_FLAGS, dir_fd=root_fd)
    except FileNotFoundError:
        return
    try:
        _empty(fd)
    finally:
        os.close(fd)
    os.rmdir(NAME, dir_fd=root_fd)


def _empty(fd: int) -> None:
    for name in os.listdir(fd):
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            continue
        except IsADirectoryError:  # not ours (workers write files): all the same, it goes
            shutil.rmtree(name, dir_fd=fd)


class Stager:
    """Writes temporaries into an open staging folder; one per process (a worker's own)."""

    def __init__(self, folder_fd: int) -> None:
        self._fd = folder_fd
        # Short names (a long title would overflow NAME_MAX), the process's own.
        self._names = (f"{os.getpid()}-{n}{TMP_SUFFIX}" for n in itertools.count())

    def write(self, relpath: str, data: bytes) -> StagedFile:
        """``data`` as a new temporary; ``relpath`` (the output file it is for) names it in an
        error."""
        try:
            name = write_temporary(self._fd, self._names, data)
        except OSError as e:
            raise PublishError(f"cannot write {relpath}: {e.strerror or e}") from e
        return StagedFile(name, len(data), hashlib.sha256(data).hexdigest())


def write_temporary(dir_fd: int, names: Iterator[str], data: bytes, *,
                    durable: bool = False) -> str:
    """``data`` in a new file in ``dir_fd`` named by the first of ``names`` not taken
    (``O_EXCL`` never reuses a file), fsync'ed if ``durable``; its name. Raises OSError, and
    then none is left."""
    while True:
        name = next(names)
        try:
            # Mode 0666 less the umask, as any new file: web servers need to read it.
            fd = os.open(name, _NEW_FILE_FLAGS, 0o666, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    try:
        write_and_close(fd, data, durable=durable)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        raise
    return name


def read(staging_fd: int, name: str) -> bytes:
    """The content of the staged temporary ``name`` (to write it where it cannot be renamed
    to)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=staging_fd)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PublishError(f"{NAME}/{name}: not a regular file")
        return file.read()


class _Staged(NamedTuple):
    """A file written as a temporary, waiting to be put in place."""

    relpath: str
    folder: str
    name: str
    temporary: str
    #: The temporary is in the staging folder (a worker's), not in ``folder``.
    in_staging: bool


class Temporaries:
    """The files of one build written as temporaries, in the order they were written."""

    def __init__(self, folders: Folders, *, durable: bool) -> None:
        self._folders = folders
        self._durable = durable
        self._names = (f".{os.getpid()}-{n}{TMP_SUFFIX}" for n in itertools.count())
        self._staged: list[_Staged] = []
        self._staging: int | None = None  # the staging folder, once staging_folder() opened it

    def paths(self) -> Iterator[str]:
        return (s.relpath for s in self._staged)

    def write(self, relpath: str, folder: str, name: str, dir_fd: int, data: bytes) -> None:
        """``data`` for ``relpath`` as a new temporary in its folder, ``dir_fd``. On failure
        none is left."""
        try:
            tmp = write_temporary(dir_fd, self._names, data, durable=self._durable)
        except OSError as e:
            raise PublishError(f"cannot write {relpath}: {e.strerror or e}") from e
        self._staged.append(_Staged(relpath, folder, name, tmp, False))

    def staging_folder(self) -> int | None:
        """The open staging folder for workers' files; None for durable files (a worker's are
        not fsync'ed)."""
        if self._durable:
            return None
        if self._staging is None:
            try:
                self._staging = open_folder(self._folders.open("", NAME))
            except OSError as e:
                raise PublishError(f"cannot write {NAME}: {e.strerror or e}") from e
        return self._staging

    def adopt(self, relpath: str, folder: str, name: str, staged: StagedFile) -> None:
        """A worker's ``staged`` file for ``relpath``, to be put into its folder by
        :meth:`put_in_place`."""
        if self._staging is None:
            raise PublishError(f"{relpath}: staged, but this build has no staging folder")
        self._staged.append(_Staged(relpath, folder, name, staged.name, True))

    def discard(self, staged: StagedFile) -> None:
        """Delete a worker's file that is not needed (the same file is on disk)."""
        if self._staging is not None:
            with contextlib.suppress(OSError):
                os.unlink(staged.name, dir_fd=self._staging)

    def put_in_place(self) -> None:
        """Rename every temporary over its target. On a failure the files put in place stay
        so, the others stay staged (for :meth:`drop`), and PublishError says which failed."""
        for i, staged in enumerate(self._staged):
            try:
                # A worker's file may be the first in its folder (made now: the writer
                # journals the path first); a folder gone since its temporary was made is not.
                dir_fd = self._folders.open(staged.folder, staged.relpath,
                                            create=staged.in_staging)
                if staged.in_staging:
                    self._move(staged, dir_fd)
                else:
                    os.replace(staged.temporary, staged.name, src_dir_fd=dir_fd,
                               dst_dir_fd=dir_fd)
            except (OSError, PublishError) as e:
                del self._staged[:i]
                reason = getattr(e, "strerror", None) or e
                raise PublishError(f"cannot write {staged.relpath}: {reason}") from e
        self._staged.clear()

    def _move(self, staged: _Staged, dir_fd: int) -> None:
        """A worker's temporary from the staging folder into its folder, ``dir_fd``: renamed, or
        copied where a rename cannot go (another file system: a mount point, a bind mount)."""
        try:
            os.replace(staged.temporary, staged.name, src_dir_fd=self._staging,
                       dst_dir_fd=dir_fd)
            return
        except OSError as e:
            if e.errno != errno.EXDEV or self._staging is None:
                raise
        tmp = write_temporary(dir_fd, self._names, read(self._staging, staged.temporary))
        try:
            os.replace(tmp, staged.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        with contextlib.suppress(OSError):
            os.unlink(staged.temporary, dir_fd=self._staging)

    def drop(self) -> bool:
        """Delete every temporary still staged; whether all could be."""
        dropped = 0
        for staged in self._staged:
            with contextlib.suppress(OSError, PublishError):
                dir_fd = self._staging if staged.in_staging else self._folders.open(
                    staged.folder, staged.relpath, create=False)
                os.unlink(staged.temporary, dir_fd=dir_fd)
                dropped += 1
        everything = dropped == len(self._staged)
        self._staged.clear()
        return everything

    def remove_staging(self) -> None:
        """Remove the staging folder: this build's (a file no one adopted goes with it) or one
        a killed build left (only temporaries). One failed ``open`` when there is none."""
        self.close()
        with contextlib.suppress(OSError, PublishError):
            remove_folder(self._folders.open("", NAME, create=False))

    def close(self) -> None:
        """Release the staging folder's descriptor."""
        if self._staging is not None:
            with contextlib.suppress(OSError):
                os.close(self._staging)
            self._staging = None

    def __bool__(self) -> bool:
        return bool(self._staged)
