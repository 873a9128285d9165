"""`rsspage init`: the starting files of a new rsspage folder or repository.

The texts are package data (``init_templates/``), so they are read, tested and edited as the
YAML they are. The only substitution is rsspage's own version, pinned in the workflow so that a
scheduled run installs the rsspage that wrote it, not whatever is newest.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rsspage import __version__
from rsspage.config import DEFAULT_NAME
from rsspage.errors import RsspageError

#: Where ``--github`` puts the workflow, relative to the folder.
WORKFLOW = Path(".github/workflows/rsspage.yml")
_VERSION_MARK = "@VERSION@"


class ScaffoldError(RsspageError):
    """A file ``init`` would write is already there (and ``--force`` was not given)."""


@dataclass(frozen=True, slots=True)
class InitFile:
    #: Relative to the folder given to ``init``.
    path: Path
    text: str


def _template(name: str) -> str:
    text = resources.files("rsspage").joinpath("init_templates", name).read_text("utf-8")
    return text.replace(_VERSION_MARK, __version__)


def init_files(*, github: bool) -> list[InitFile]:
    """The files ``init`` writes: the config, and with ``github`` the Actions workflow."""
    files = [InitFile(Path(DEFAULT_NAME), _template("rsspage.yml"))]
    if github:
        files.append(InitFile(WORKFLOW, _template("workflow.yml")))
    return files


def write_init(folder: Path, *, github: bool, force: bool = False) -> list[Path]:
    """Write the starting files into ``folder``; returns their paths.

    All or nothing: when any of them exists and ``force`` is false, nothing is written, so a
    half-initialised folder never results from a second ``init``.
    """
    files = init_files(github=github)
    existing = [folder / f.path for f in files if (folder / f.path).exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise ScaffoldError(f"{names}: already there, not overwritten (--force replaces it)")
    written = []
    for f in files:
        target = folder / f.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8", newline="\n")
        except OSError as e:
            raise ScaffoldError(f"cannot write {target}: {e.strerror or e}") from e
        written.append(target)
    return written
