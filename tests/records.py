"""rsspage's records of an output folder's files, read for a test whatever their form (JSON for
Hexo's posts, SQLite for the site: rsspage.publish.manifest)."""

from __future__ import annotations

from pathlib import Path

from rsspage.publish import manifest


def read_manifest(root: Path) -> dict[str, dict[str, str]]:
    """``{"files": …, "articles": …, "inputs": …}`` of ``root``'s manifest (empty if none)."""
    return read_manifest_at(manifest.path_of(root))


def read_manifest_at(path: Path) -> dict[str, dict[str, str]]:
    """:func:`read_manifest` of the manifest file ``path``."""
    records = manifest.load(path)
    try:
        return {"files": dict(records.files), "articles": dict(records.articles),
                "inputs": dict(records.inputs)}
    finally:
        records.close()


def has_manifest(root: Path) -> bool:
    return manifest.path_of(root).is_file()


def read_pages(root: Path) -> dict[str, str] | None:
    """The page hashes kept in the site folder ``root``."""
    pages = manifest.load_pages(root)
    try:
        return None if pages is None else dict(pages)
    finally:
        manifest.close_pages(pages)
