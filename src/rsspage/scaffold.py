"""`rsspage init`: the starting files of a new rsspage folder or repository.

The texts are package data (``init_templates/``), so they are read, tested and edited as the
YAML they are. The only substitution is rsspage's own version, pinned in the workflow so that a
scheduled run installs the rsspage that wrote it, not whatever is newest. Run from a source tree,
rsspage does not know its version (:data:`UNKNOWN_VERSION`): the workflow then gets a placeholder
the user must edit (:data:`SPEC_PLACEHOLDER`), never a pin of a version that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rsspage import __version__
from rsspage.config import DEFAULT_NAME
from rsspage.config_model import schema_text
from rsspage.errors import RsspageError

#: The JSON Schema of the config, beside it (``rsspage schema`` writes it again after an upgrade).
SCHEMA_NAME = "rsspage.schema.json"
#: Where ``--github`` puts the workflow, relative to the folder.
WORKFLOW = Path(".github/workflows/rsspage.yml")
#: What ``rsspage.__version__`` says when rsspage runs from a source tree without an install.
UNKNOWN_VERSION = "0.0.0"
#: RSSPAGE_SPEC of a workflow written by such an rsspage: pip refuses it, and the install step
#: stops on it with a message that says what to write instead.
SPEC_PLACEHOLDER = "EDIT-ME: rsspage==VERSION or git+https://github.com/OWNER/rsspage@REF"


class ScaffoldError(RsspageError):
    """A file ``init`` would write is already there (and ``--force`` was not given)."""


@dataclass(frozen=True, slots=True)
class InitFile:
    #: Relative to the folder given to ``init``.
    path: Path
    text: str


def pinnable(version: str) -> bool:
    """Whether ``version`` is one pip can install (not the source tree's stand-in)."""
    return version != UNKNOWN_VERSION


def _template(name: str, version: str) -> str:
    text = resources.files("rsspage").joinpath("init_templates", name).read_text("utf-8")
    if pinnable(version):
        spec, writer = f"rsspage=={version}", f"rsspage {version}"
    else:
        spec = SPEC_PLACEHOLDER
        writer = ("rsspage from a source tree, whose version is unknown.\n"
                  "# EDIT RSSPAGE_SPEC below before the first run: it is a placeholder")
    return text.replace("@SPEC@", spec).replace("@WRITER@", writer)


def init_files(*, github: bool, version: str | None = None) -> list[InitFile]:
    """The files ``init`` writes: the config, and with ``github`` the Actions workflow, which
    installs rsspage ``version`` (default: this one)."""
    version = __version__ if version is None else version
    files = [InitFile(Path(DEFAULT_NAME), _template("rsspage.yml", version)),
             # named by the config's first line: editors then complete and check it
             InitFile(Path(SCHEMA_NAME), schema_text())]
    if github:
        files.append(InitFile(WORKFLOW, _template("workflow.yml", version)))
    return files


def write_init(folder: Path, *, github: bool, force: bool = False,
               version: str | None = None) -> list[Path]:
    """Write the starting files into ``folder``; returns their paths.

    All or nothing: when any of them exists and ``force`` is false, nothing is written, so a
    half-initialised folder never results from a second ``init``.
    """
    files = init_files(github=github, version=version)
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
