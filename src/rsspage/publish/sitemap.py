"""The site's sitemap: one file up to :data:`SITEMAP_ONE_FILE` pages, beyond an index of
parts, one per folder of the site's first two levels (see :func:`write_sitemap`)."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import partial

from rsspage.config import Config
from rsspage.publish import feeds_out, table_map
from rsspage.publish.rebuild import EXTRAS_FORMAT, write_unless_kept
from rsspage.publish.site_pages import digest
from rsspage.publish.writer import OutputWriter

#: Pages up to which the sitemap is one file.
SITEMAP_ONE_FILE = 5_000


def write_sitemap(config: Config, pages: Collection[str], writer: OutputWriter,
                  previous: Mapping[str, str], touched: Iterable[str] | None = None,
                  ) -> dict[str, str]:
    """The sitemap of ``pages`` (with a site URL): its parts whose pages changed.

    Up to :data:`SITEMAP_ONE_FILE` pages, one ``sitemap.xml``; beyond, an index of parts, one
    per folder of the site's first two levels (``a/3f``: the pages of the articles whose id
    starts with ``3f``; ``c/<category>``; ``archive``; ``page``; the root), named by a hash of
    the folder: the articles a build adds or changes touch the parts of their own folders,
    where parts cut by position would all shift with every new page. ``touched``: the pages
    added and removed since ``previous`` (a build from the changes), when known: only their
    parts are looked at; the others stay as they are, unread."""
    url = config.site.url
    if not url:
        return {}
    if len(pages) <= SITEMAP_ONE_FILE:
        ordered = sorted(pages)
        return write_unless_kept(writer, previous, digest(EXTRAS_FORMAT, url, *ordered),
                                  ["sitemap.xml"],
                                  partial(feeds_out.sitemaps, url, [(p, None) for p in ordered]))
    folders = _touched_folders(pages, previous, touched) if touched is not None else None
    if folders is None:
        folders = {}
        for path in pages:
            folders.setdefault(_sitemap_part(path), []).append(path)
    parts: dict[str, list[str]] = {}
    for name, paths in folders.items():  # a part holds at most the protocol's limit
        limit = feeds_out.SITEMAP_LIMIT
        paths.sort()
        for n, start in enumerate(range(0, len(paths), limit)):
            parts[name if not n else name.replace(".xml", f"-{n}.xml")] = paths[start:start + limit]
    hashes: dict[str, str] = {}
    for name, paths in sorted(parts.items()):
        if not paths:
            continue  # a part left empty: it goes
        hashes |= write_unless_kept(writer, previous, digest(EXTRAS_FORMAT, url, *paths), [name],
                                     partial(_sitemap_file, name, url, paths, part=True))
    if touched is not None and folders is not None:  # the untouched parts, as they were
        hashes |= {name: previous[name] for name in _part_names(previous)
                   if name not in parts and name not in folders}  # an emptied part goes
    names = sorted(name for name in hashes if name != "sitemap.xml")
    return hashes | write_unless_kept(
        writer, previous, digest(EXTRAS_FORMAT, url, *names), ["sitemap.xml"],
        partial(_sitemap_file, "sitemap.xml", url, names, part=False))


def _part_names(previous: Mapping[str, str]) -> list[str]:
    return [name for name, _ in table_map.under(previous, ["sitemap-"])]


def _touched_folders(pages: Collection[str], previous: Mapping[str, str],
                     touched: Iterable[str]) -> dict[str, list[str]] | None:
    """The pages of each part that ``touched`` falls in (empty: the part goes); None when
    the last build's sitemap was not in parts of one folder each (then every part is made)."""
    names = {_sitemap_part(path) for path in touched}
    old = _part_names(previous)
    if "sitemap.xml" not in previous or not old or any(
            name.count("-") > 1 for name in old):  # one file, or a folder split in two
        return None
    folders: dict[str, list[str]] = {name: [] for name in names}
    touched_folders = {_sitemap_folder(path) for path in touched}
    prefixes = tuple(folder + "/" for folder in touched_folders if folder)
    at_root = "" in touched_folders
    # Only the touched folders' pages are read, unless one is the root (every page then).
    for path in pages if at_root else table_map.paths_under(pages, prefixes):
        if path.startswith(prefixes) or (at_root and "/" not in path):
            part = folders.get(_sitemap_part(path))
            if part is not None:
                part.append(path)
    return folders


def _sitemap_file(name: str, url: str, items: Sequence[str], *, part: bool) -> dict[str, bytes]:
    """``{name: bytes}``: a part listing the pages ``items``, or the index of the parts."""
    render = feeds_out.sitemap_part if part else feeds_out.sitemap_index
    return {name: render(url, items)}


def _sitemap_part(path: str) -> str:
    """The part of the sitemap that lists ``path`` (see :func:`write_sitemap`)."""
    return _sitemap_name(_sitemap_folder(path))


def _sitemap_folder(path: str) -> str:
    """The folder of the site's first two levels that ``path`` is in ("" for the root)."""
    return "/".join(path.split("/")[:2]) if path.count("/") >= 2 else path.rpartition("/")[0]


@functools.lru_cache(maxsize=4096)
def _sitemap_name(folder: str) -> str:
    return f"sitemap-{digest(folder)[:10]}.xml"
