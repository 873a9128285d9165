"""The folders an :class:`~rsspage.publish.writer.OutputWriter` writes in: open descriptors,
each checked once, that no symlink swapped in later can redirect.

Files are written relative to open descriptors of their folders (``openat``), kept for the
build (the most recently used :data:`_OPEN_FOLDERS`). A folder is checked when it is first
opened: each component is opened with ``O_NOFOLLOW``, and a symlink is followed only after its
resolved target is found inside the root. A folder created here is opened the same way right
after ``mkdir``, so a symlink raced in is caught. Once open, a folder stays the folder that was
checked: if it is later swapped for a symlink, writes do not follow the symlink; they go into
the checked folder (still inside the root) or fail if it was deleted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import stat
from collections import OrderedDict
from pathlib import Path

from rsspage.errors import PublishError
from rsspage.publish.relpaths import lstat_at as _lstat_at

#: Folder descriptors kept open per writer (least recently used closed first): enough for the
#: few hundred folders of a site, well under the process's limit.
_OPEN_FOLDERS = max(16, min(1024, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4))
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Folders:
    """Checked descriptors of the folders under ``root`` (relpath → descriptor)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._open: OrderedDict[str, int] = OrderedDict()

    def open(self, folder: str, relpath: str, *, create: bool = True) -> int:
        """An open descriptor of ``folder`` (``""`` is the root), checked, and created if needed
        (and ``create``; else a missing folder is FileNotFoundError)."""
        fd = self._open.get(folder)
        if fd is not None:
            self._open.move_to_end(folder)
            return fd
        if not folder:
            fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            parent, _, name = folder.rpartition("/")
            parent_fd = self.open(parent, relpath, create=create)
            fd = self._open_child(parent_fd, folder, name, relpath, create)
        self._open[folder] = fd
        if len(self._open) > _OPEN_FOLDERS:
            os.close(self._open.popitem(last=False)[1])
        return fd

    def _open_child(self, parent_fd: int, folder: str, name: str, relpath: str,
                    create: bool) -> int:
        try:
            return os.open(name, _FOLDER_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):  # made meanwhile: the open checks it
                os.mkdir(name, dir_fd=parent_fd)
            return os.open(name, _FOLDER_FLAGS, dir_fd=parent_fd)
        except OSError as e:
            st = _lstat_at(name, parent_fd)
            # ELOOP is O_NOFOLLOW's answer (EMLINK on FreeBSD); anything else, e.g. a file where
            # a folder is needed, is a plain error.
            if (e.errno not in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR) or st is None
                    or not stat.S_ISLNK(st.st_mode)):
                raise
        # A symlink: follow it only to a folder inside the root.
        target = self.check_inside(relpath, folder)
        return os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def check_inside(self, relpath: str, part: str | None = None) -> Path:
        """The resolved path of ``part`` (default ``relpath``); refuses one outside the root."""
        try:
            resolved = (self._root / (part or relpath)).resolve()
        except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop on Python < 3.13
            raise PublishError(f"{relpath}: cannot resolve path: {e}") from e
        if not resolved.is_relative_to(self._root):
            raise PublishError(f"{relpath}: leads outside the output folder {self._root}")
        return resolved

    def close(self) -> None:
        """Close every descriptor (a later :meth:`open` checks its folder again)."""
        while self._open:
            with contextlib.suppress(OSError):
                os.close(self._open.popitem()[1])
