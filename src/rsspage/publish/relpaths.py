"""Plain relative POSIX paths, the only paths rsspage writes, what is at them, and the upkeep
of their folders (empty ones pruned, a killed build's temporaries swept)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from rsspage.errors import PublishError
from rsspage.fileio import TMP_SUFFIX


def is_plain_relpath(relpath: str) -> bool:
    """Whether ``relpath`` is a plain relative POSIX path: no empty, ``.`` or ``..`` part, no
    leading ``/``, no backslash or NUL."""
    # String tests instead of splitting: this runs for every file of every build.
    wrapped = f"/{relpath}/"
    return not ("//" in wrapped or "/./" in wrapped or "/../" in wrapped or "\\" in relpath
                or "\0" in relpath)


def split(relpath: str) -> tuple[str, str]:
    """(folder, file name) of a plain relative POSIX path; anything else is refused."""
    if not is_plain_relpath(relpath):
        raise PublishError(f"{relpath!r}: not a plain relative POSIX path")
    folder, _, name = relpath.rpartition("/")
    return folder, name


def is_file(st: os.stat_result | None, size: int | None = None) -> bool:
    """Whether ``st`` is a regular file (not a link), of ``size`` bytes when given."""
    return (st is not None and stat.S_ISREG(st.st_mode)
            and (size is None or st.st_size == size))


def lstat_at(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def prune_empty(folder: Path, root: Path) -> None:
    """Remove ``folder`` and the folders above it, up to ``root``, while they are empty."""
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or not ours to remove): stop climbing
        folder = folder.parent


def sweep_temporaries(folders: Iterable[Path]) -> None:
    """Delete the temporary files (``.*`` + fileio.TMP_SUFFIX) a killed or failed build left
    in ``folders``."""
    for folder in folders:
        with contextlib.suppress(OSError):
            for leftover in folder.glob(f".*{TMP_SUFFIX}"):
                leftover.unlink(missing_ok=True)
