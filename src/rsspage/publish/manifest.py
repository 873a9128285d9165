"""The record of what rsspage wrote into an output folder, kept *inside* that folder.

The manifest maps each file rsspage wrote (relpath) to its sha256, each file that belongs to
one article (a Hexo post, a site article page) to the article's id, and each file written from
a known set of inputs (a Hexo post) to the digest of those inputs, so a build can tell that a
file is up to date without rendering it (it is saved together with the sha256 it produced: a
file rewritten without inputs loses them). It travels with the files it describes (a git
checkout of Hexo posts, a cached site), so ownership survives a lost state folder: a new state
adopts the files instead of refusing to touch them, and an article arriving again gets its old
file name back.

Its two forms:

- ``.rsspage-manifest.json`` (Hexo's posts): read and written whole, a line per file, so a git
  tree of posts shows which changed. Hexo skips files whose name starts with ``.`` in
  ``source/_posts``, so it is never published as a post.
- ``.rsspage-manifest.sqlite`` (the site: 56,000 files at 100,000 articles): three tables read
  by key and written by difference (table_map.py), so a build from the changes costs what it
  touches; a full build reads it whole and writes it whole into a new file. A site built by an
  earlier version has the JSON form: the first build reads it and removes it once the SQLite
  one is saved.

Beside either, ``<manifest>.journal`` lists (one JSON string per line) the paths a build is
creating or replacing, written before the files change: see :mod:`rsspage.publish.writer`.

Earlier versions kept a manifest of the JSON form (without article ids) in the state folder;
it is read once when the output has none, and removed when the new one is saved.

``.rsspage-pages.sqlite`` holds what each page of the site was rendered from (path → input
hash), so a build renders only pages whose inputs changed (``.rsspage-pages.json`` before,
read once). It describes this copy of the files, so it lives with them too: a state restored on
a new machine with the site from a cache still builds incrementally, and a site folder that is
gone takes its hashes with it (a full build, never a stale page kept). It only saves work: it
is not fsync'ed, and a damaged one costs one full build.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from rsspage.errors import PublishError
from rsspage.fileio import replace_file
from rsspage.publish import table_map
from rsspage.publish.table_map import TableMap

if TYPE_CHECKING:
    from rsspage.config import Config
    from rsspage.store import Store

NAME = ".rsspage-manifest.json"
#: The site's manifest: the same tables in SQLite (table_map.py), read by key.
DB_NAME = ".rsspage-manifest.sqlite"
PAGES_NAME = ".rsspage-pages.json"  # the site's page hashes before DB_PAGES, read once
DB_PAGES = ".rsspage-pages.sqlite"
_TABLES = ("files", "articles", "inputs")
#: No output file may start with this at the top of an output folder: rsspage's own records.
RESERVED = ".rsspage-"
_VERSIONS = (1, 2)


@dataclass(slots=True)
class Manifest:
    """Dictionaries read from JSON, or :class:`TableMap` s over the SQLite file ``db``."""

    #: relpath → sha256 of its content ("" when unknown: rewrite it before trusting it).
    files: MutableMapping[str, str] = field(default_factory=dict)
    #: relpath → id of the article the file is for.
    articles: MutableMapping[str, str] = field(default_factory=dict)
    #: relpath → digest of what the file was rendered from (see OutputWriter.write).
    inputs: MutableMapping[str, str] = field(default_factory=dict)
    db: sqlite3.Connection | None = None

    def close(self) -> None:
        """Close the SQLite file (its changes not committed are dropped)."""
        if self.db is not None:
            self.db.close()


def journal_of(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def path_of(root: Path) -> Path:
    """The manifest of the output folder ``root``: the SQLite one once there is one (or a
    build that was making it was killed), else the JSON one."""
    db = root / DB_NAME
    return db if db.exists() or journal_of(db).exists() else root / NAME


def is_db(path: Path) -> bool:
    return path.suffix == ".sqlite"


def load_or_earlier(path: Path, earlier: Iterable[Path],
                    whole: bool = False) -> tuple[Path, Manifest]:
    """The journal and the manifest a build starts from: ``path``'s, or the first of the
    ``earlier`` ones (a JSON manifest the SQLite one replaces, the state folder's of an earlier
    version, read when there is none yet at ``path``; the writer removes them once it is
    saved). ``whole``: one in SQLite is read whole, as dictionaries (see :func:`load`)."""
    if not path.exists() and not journal_of(path).exists():
        for old in earlier:
            if old.exists() or journal_of(old).exists():
                return journal_of(old), load(old)
    return journal_of(path), load(path, whole=whole)


def load(path: Path, *, whole: bool = False) -> Manifest:
    """The manifest at ``path`` (empty when there is none). One in SQLite is read by key as it
    is used (close() it: the writer does), or with ``whole`` read at once into dictionaries and
    saved whole, into a new file: a full build asks for every entry (a query each cost ~25 µs a
    file, 1.4 s at 56,000 files)."""
    if is_db(path):
        if not path.exists():
            return Manifest()  # saved whole into a new file, like a JSON one
        db = table_map.connect(path, _TABLES, durable=True)
        files, articles, inputs = (TableMap(db, table) for table in _TABLES)
        if not whole:
            return Manifest(files, articles, inputs, db)
        try:
            return Manifest(dict(files.items()), dict(articles.items()), dict(inputs.items()))
        finally:
            db.close()
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


def _respelled(rel: str) -> bool:
    return not rel.isascii() or rel != rel.lower()


def respelled(owned: MutableMapping[str, str]) -> Iterable[str]:
    """The paths of ``owned`` that may not be their own clash key (names.clash_key: not
    ASCII, or with capitals), the only ones names.Spellings stores; from a
    :class:`TableMap`, read by SQLite (its ``lower()`` is ASCII's) without the others."""
    if isinstance(owned, TableMap):
        return (rel for rel, _ in owned.pairs("path <> lower(path) OR path GLOB ?",
                                              ("*[^ -~]*",), lambda rel, _: _respelled(rel)))
    return [rel for rel in owned if _respelled(rel)]


def _strings(loaded: dict[str, object]) -> dict[str, str]:
    """``loaded`` (JSON keys are strings) with every value a string: itself when they all are
    (copies of them cost 0.03 s and 4.5 MB at 56,000 files)."""
    if all(type(value) is str for value in loaded.values()):
        return loaded  # type: ignore[return-value]  # checked just above
    return {key: str(value) for key, value in loaded.items()}


def save(path: Path, manifest: Manifest) -> None:
    """Write ``manifest`` atomically and durably (one fsync per build: it is what must survive)
    unless the file already says the same (a git tree of posts then shows no change), then drop
    the journal. Into SQLite, only what changed is written (in one transaction)."""
    if is_db(path):
        _save_db(path, manifest)
    else:
        _save_json(path, manifest)
    journal_of(path).unlink(missing_ok=True)


def _owned_only(manifest: Manifest) -> Manifest:
    """``manifest`` without the articles and inputs of paths it no longer owns."""
    files = manifest.files
    return Manifest(files, {rel: a for rel, a in manifest.articles.items() if rel in files},
                    {rel: i for rel, i in manifest.inputs.items() if rel in files})


def _save_db(path: Path, manifest: Manifest) -> None:
    if manifest.db is None:  # from dictionaries (a first build, or a JSON manifest read)
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_temporaries(path)
        # Whole or not at all: a kill half way must not leave an empty manifest that hides the
        # JSON one still there (which is read again, with its journal, by the next build).
        owned = _owned_only(manifest)
        table_map.write_new(path, dict(zip(_TABLES, (owned.files, owned.articles,
                                                     owned.inputs), strict=True)), durable=True)
        return
    # The writer keeps articles and inputs to the paths it owns (OutputWriter._forget).
    maps = (manifest.files, manifest.articles, manifest.inputs)
    table_map.commit(manifest.db, [m for m in maps if isinstance(m, TableMap)], path)


def _save_json(path: Path, manifest: Manifest) -> None:
    manifest = _owned_only(manifest)
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


def load_pages(root: Path) -> MutableMapping[str, str] | None:
    """The page hashes kept in ``root`` (read by key from SQLite: close them with
    :func:`save_pages` or :func:`close_pages`); None when there are none (or they are
    unreadable: they only save work, so a damaged file costs one full build)."""
    if (root / DB_PAGES).exists():
        try:
            db = table_map.connect(root / DB_PAGES, ("pages",), durable=False)
        except PublishError:
            return None
        pages = TableMap(db, "pages")
        try:
            if not pages.is_empty():
                return pages
        except PublishError:
            pass
        db.close()  # none (a site has pages: the file is new or damaged), or unreadable
        return None
    try:  # an earlier version's
        body = orjson.loads((root / PAGES_NAME).read_bytes())
        pages = body["pages"]
        if body.get("version") != 1 or not isinstance(pages, dict):
            return None
        return _strings(pages)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_pages(root: Path, pages: MutableMapping[str, str]) -> None:
    """Keep ``pages`` as the page hashes of ``root``: what changed in a :class:`TableMap`
    (load_pages()'s, or an overlay of it); a dictionary replaces them whole (a new file put in
    place by ``os.replace``: a damaged one goes too)."""
    if isinstance(pages, TableMap):
        table_map.commit(pages.db, [pages], root / DB_PAGES)
        return
    sweep_temporaries(root / DB_PAGES)
    table_map.write_new(root / DB_PAGES, {"pages": pages}, durable=False)
    try:
        (root / PAGES_NAME).unlink(missing_ok=True)
    except OSError as e:
        raise PublishError(f"cannot remove {root / PAGES_NAME}: {e.strerror}") from e


def pages_failed(pages: MutableMapping[str, str] | None) -> bool:
    """Whether reading ``pages`` (load_pages()'s) failed: the file is damaged."""
    return isinstance(pages, TableMap) and pages.failed


def close_pages(pages: MutableMapping[str, str] | None) -> None:
    if isinstance(pages, TableMap):
        pages.db.close()


# -- what the configured outputs' manifests say (status, forget: no templates loaded) ------


def _roots(config: Config) -> dict[str, Path]:
    roots = {"hexo": config.output.hexo, "site": config.output.site}
    return {name: root for name, root in roots.items() if root is not None}


def published_files(config: Config, ids: set[str]) -> list[str]:
    """The files the outputs' manifests say were written for the articles ``ids``."""
    files: list[str] = []
    for root in _roots(config).values():
        records = load(path_of(root))
        try:
            files += sorted(str(root / rel) for rel, article in records.articles.items()
                            if article in ids)
        finally:
            records.close()
    return files


def unknown_articles(config: Config, store: Store) -> dict[str, int]:
    """Per output: how many articles it holds files for that the archive does not know (a
    younger state). Empty when the archive knows all of them."""
    counts = {}
    for name, root in _roots(config).items():
        records = load(path_of(root))
        try:
            unknown = len(store.unknown_ids(records.articles.values()))
        finally:
            records.close()
        if unknown:
            counts[name] = unknown
    return counts
