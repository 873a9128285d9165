"""The record of what rsspage wrote into an output folder, kept *inside* that folder.

``<output>/.rsspage-manifest.json`` maps each file rsspage wrote (relpath) to its sha256, each
file that belongs to one article (a Hexo post, a site article page) to the article's id, and
each file written from a known set of inputs (a Hexo post) to the digest of those inputs, so a
build can tell that a file is up to date without rendering it (it is saved together with the
sha256 it produced: a file rewritten without inputs loses them).
It travels with the files it describes (a git checkout of Hexo posts, a cached site), so
ownership survives a lost state folder: a new state adopts the files instead of refusing to
touch them, and an article arriving again gets its old file name back.

Hexo skips files whose name starts with ``.`` in ``source/_posts``, so the manifest is never
published as a post.

Beside it, ``.rsspage-manifest.json.journal`` lists (one JSON string per line) the paths a build
is creating or replacing, written before the files change: see :mod:`rsspage.publish.writer`.

Earlier versions kept a manifest of the same form (without article ids) in the state folder;
it is read once when the output has none, and removed when the new one is saved.

``.rsspage-pages.json`` holds what each page of the site was rendered from (path → input hash),
so a build renders only pages whose inputs changed. It describes this copy of the files, so it
lives with them too: a state restored on a new machine with the site from a cache still builds
incrementally, and a site folder that is gone takes its hashes with it (a full build, never a
stale page kept).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from rsspage.errors import PublishError
from rsspage.fileio import replace_file

if TYPE_CHECKING:
    from rsspage.config import Config
    from rsspage.store import Store

NAME = ".rsspage-manifest.json"
PAGES_NAME = ".rsspage-pages.json"
#: No output file may start with this at the top of an output folder: rsspage's own records.
RESERVED = ".rsspage-"
_VERSIONS = (1, 2)


@dataclass(slots=True)
class Manifest:
    #: relpath → sha256 of its content ("" when unknown: rewrite it before trusting it).
    files: dict[str, str] = field(default_factory=dict)
    #: relpath → id of the article the file is for.
    articles: dict[str, str] = field(default_factory=dict)
    #: relpath → digest of what the file was rendered from (see OutputWriter.write).
    inputs: dict[str, str] = field(default_factory=dict)


def journal_of(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def load(path: Path) -> Manifest:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Manifest()
    except OSError as e:
        raise PublishError(f"cannot read manifest {path}: {e.strerror}") from e
    try:
        body = orjson.loads(raw)
        files, articles = body["files"], body.get("articles", {})
        inputs = body.get("inputs", {})  # version 2 without it: nothing known up to date
        if body.get("version") not in _VERSIONS or not all(
                isinstance(part, dict) for part in (files, articles, inputs)):
            raise ValueError("unknown layout")
        return Manifest(_strings(files), _strings(articles), _strings(inputs))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        # Forgetting what we own would only make us refuse to touch our own files, but guessing
        # could make us delete someone else's: stop and let the user decide.
        raise PublishError(f"manifest {path} is damaged ({e}); move it away to start over") from e


def _strings(loaded: dict[str, object]) -> dict[str, str]:
    """``loaded`` (JSON keys are strings) with every value a string: itself when they all are
    (copies of them cost 0.03 s and 4.5 MB at 56,000 files)."""
    if all(type(value) is str for value in loaded.values()):
        return loaded  # type: ignore[return-value]  # checked just above
    return {key: str(value) for key, value in loaded.items()}


def save(path: Path, manifest: Manifest) -> None:
    """Write ``manifest`` atomically and durably (one fsync per build: it is what must survive)
    unless the file already says the same (a git tree of posts then shows no change), then drop
    the journal."""
    # Sorted by orjson (OPT_SORT_KEYS, by code point as Python sorts): a second sort here cost
    # 0.13 s of a +10 build with 56,000 files.
    body: dict[str, object] = {"version": 2, "files": manifest.files,
                               "articles": manifest.articles}
    if manifest.inputs:
        # Still version 2: an earlier rsspage ignores the key and drops it when it saves,
        # which only costs the next build a full render.
        body["inputs"] = manifest.inputs
    # A line per file (a git tree of posts shows which changed); orjson: ~10x the standard
    # library's speed, and every build reads and writes the whole manifest.
    data = orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_temporaries(path)
    except OSError as e:
        raise PublishError(f"cannot save manifest {path}: {e.strerror}") from e
    _replace(path, data, durable=True)
    journal_of(path).unlink(missing_ok=True)


def _replace(path: Path, data: bytes, *, durable: bool) -> None:
    """Put ``data`` at ``path`` through a temporary and ``os.replace`` (fsync'ed when
    ``durable``); nothing is written when the file holds ``data`` already."""
    if _holds(path, data):
        return
    try:
        replace_file(path, data, durable=durable)
    except OSError as e:
        raise PublishError(f"cannot save {path}: {e.strerror}") from e


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def sweep_temporaries(path: Path) -> None:
    """Delete copies of the manifest a build killed while saving it left behind (also the
    ``.<manifest>.XXXXXXXX`` of earlier versions)."""
    for leftover in path.parent.glob(f".{path.name}.*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def remove_legacy(path: Path) -> None:
    """Remove a manifest of an earlier version (in the state folder) and its journal."""
    for old in (path, journal_of(path)):
        with contextlib.suppress(FileNotFoundError):
            old.unlink()


def load_journal(path: Path) -> tuple[list[str], bool]:
    """The paths in the journal, and whether it ends in a cut-off entry (no newline)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [], False
    except OSError as e:
        raise PublishError(f"cannot read journal {path}: {e.strerror}") from e
    paths: list[str] = []
    lines = text.split("\n")
    for line in lines[:-1]:  # the last piece has no newline: a cut-off entry
        try:
            rel = json.loads(line)
        except ValueError:
            continue
        if isinstance(rel, str):
            paths.append(rel)
    return paths, lines[-1] != ""


def load_pages(root: Path) -> dict[str, str] | None:
    """The page hashes kept in ``root``; None when there are none (or they are unreadable:
    they only save work, so a damaged file costs one full build)."""
    try:
        body = orjson.loads((root / PAGES_NAME).read_bytes())
        pages = body["pages"]
        if body.get("version") != 1 or not isinstance(pages, dict):
            return None
        return _strings(pages)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_pages(root: Path, pages: dict[str, str]) -> None:
    """Replace the page hashes kept in ``root`` (atomically; not rewritten when unchanged)."""
    data = orjson.dumps({"version": 1, "pages": pages}, option=orjson.OPT_SORT_KEYS)
    _replace(root / PAGES_NAME, data, durable=False)  # only saves work: a loss costs a build


# -- what the configured outputs' manifests say (status, forget: no templates loaded) ------


def _roots(config: Config) -> dict[str, Path]:
    roots = {"hexo": config.output.hexo, "site": config.output.site}
    return {name: root for name, root in roots.items() if root is not None}


def published_files(config: Config, ids: set[str]) -> list[str]:
    """The files the outputs' manifests say were written for the articles ``ids``."""
    files: list[str] = []
    for root in _roots(config).values():
        written = load(root / NAME).articles
        files += sorted(str(root / rel) for rel, article in written.items() if article in ids)
    return files


def unknown_articles(config: Config, store: Store) -> dict[str, int]:
    """Per output: how many articles it holds files for that the archive does not know (a
    younger state). Empty when the archive knows all of them."""
    counts = {}
    for name, root in _roots(config).items():
        written = load(root / NAME).articles.values()
        if unknown := len(store.unknown_ids(written)):
            counts[name] = unknown
    return counts
