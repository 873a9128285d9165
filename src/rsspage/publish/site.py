"""The built-in static news site: Jinja2 pages from the store's articles, incrementally.

One build::

    articles ─► SiteModel (sorted, grouped, URLs, times: once)          site_model.py
             ─► Pages, each with a digest of what it shows              site_pages.py
             ─► for each page: digest unchanged and file ours → writer.keep(path)
                                otherwise render and writer.write(path)
             ─► static assets; Pagefind search index of changed shards  search_index.py

A page's stored hash combines its own digest with the *site version*: the template sources
(package and user overrides), the static assets, the config values pages show, and
:data:`SITE_FORMAT`. Changing any of them re-renders every page; adding an article re-renders
only the pages that show it or link to it.

Templates are autoescaped; only ``Article.content_html`` (sanitised in normalise) is inserted as
markup, through the ``content`` filter. A user overrides any template by putting a file with the
same name in ``templates/`` next to the config. Every link is relative, so the site works under
any base path and (search aside) from ``file://``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache, partial
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from rsspage.config import Config
from rsspage.errors import PublishError
from rsspage.publish import page_links, render_pool, search_index, site_delta
from rsspage.publish.fragments import Cards, Fragments
from rsspage.publish.labels import LABELS
from rsspage.publish.layouts import layout_of, post_text
from rsspage.publish.reading import reading_minutes, tight_end
from rsspage.publish.site_model import (
    SiteLinks,
    build_model,
    local_time,
    with_image_attributes,
)
from rsspage.publish.site_pages import TEMPLATES, Lead, Page, all_pages, digest
from rsspage.publish.writer import OutputWriter
from rsspage.store import FeedHealth
from rsspage.types import Article

__all__ = ["ContentLoader", "SiteLinks", "SiteResult", "build_site", "site_version",
           "with_content"]

log = logging.getLogger("rsspage")

STATIC = Path(__file__).parent / "static"
#: Bump when the code that fills the pages changes what they show.
SITE_FORMAT = "site-5"
#: Pages rendered per batch; their articles' content is loaded for the batch.
_RENDER_BATCH = 500

#: ``content_html`` of articles by id (``Store.contents``).
ContentLoader = Callable[[Iterable[str]], Mapping[str, str]]

_BASE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src * data:; "
             "media-src *; connect-src 'self'; base-uri 'none'; form-action 'self'; "
             "object-src 'none'")
#: Pagefind compiles WebAssembly and runs it in a worker; only the search page allows that.
_SEARCH_CSP = _BASE_CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'") + (
    "; worker-src 'self'")


@dataclass(frozen=True, slots=True)
class SiteResult:
    """What one site build did."""

    #: Output path → input hash of every page of this build (and ``pagefind/<k>/`` → hash of
    #: each search shard; ``write_site`` adds the feeds' and sitemap's); the store keeps it for
    #: the next build.
    page_hashes: MutableMapping[str, str]
    #: Pages rendered (their file was rewritten only when the bytes changed).
    rendered: int
    #: Pages whose inputs were unchanged: not rendered, file kept as it was.
    skipped: int
    #: The search shards built beside the live ones: the caller puts them in place
    #: (:meth:`~rsspage.publish.search_index.IndexResult.put_in_place`) after the pages.
    search: search_index.IndexResult
    #: URLs of the pages, for the site's feeds and sitemap.
    links: SiteLinks
    #: Pagefind is installed but the index was not updated (the next build must mend it).
    search_failed: bool = False

    @property
    def search_shards_rebuilt(self) -> int:
        return self.search.rebuilt

    @property
    def search_available(self) -> bool:
        """Whether a Pagefind binary was found and the index is up to date."""
        return self.search.available


def build_site(
    articles: Sequence[Article],
    health: Sequence[FeedHealth],
    config: Config,
    writer: OutputWriter,
    page_hashes: Mapping[str, str],
    load_content: ContentLoader | None = None,
    clusters: Mapping[str, str] | None = None,
    lead: Lead | None = None,
    then: Callable[[SiteLinks, Mapping[str, str]], None] | None = None,
) -> SiteResult:
    """Write the site for ``articles`` through ``writer``; render only pages that changed.
    ``clusters``: each clustered article's story cluster by id; ``lead``: see site_pages.Lead;
    ``then(links, page hashes)``: see :func:`_write_pages` (the site's feeds and sitemap).

    A page is kept as it is when its input hash equals ``page_hashes[path]`` and the writer
    can keep the file (it is ours and still on disk); otherwise it is rendered and written.

    ``load_content`` gives the ``content_html`` of articles by id when ``articles`` come without
    it (``Store.articles(content=False)``): only pages that are rendered need it.

    ``page_hashes`` is the previous build's :attr:`SiteResult.page_hashes`. The caller calls
    ``writer.finish()`` afterwards, then ``result.search.put_in_place()``. The ``pagefind/``
    folder is not the writer's: its shards are rebuilt here (beside the live ones), and only
    where a shard's articles changed.
    """
    zone = ZoneInfo(config.site.timezone)
    model = build_model(articles, zone, clusters)
    env, version = _prepare(config, writer, feed_views(health))
    language = config.site.language
    shards = search_index.plan_shards(model.views, language)
    # Without Pagefind the search page says so instead of loading bundles that are not there,
    # and the pages may take every core (render_pool.py): nothing is indexed beside them.
    binary = search_index.find_binary()
    pages = all_pages(model, health, config.output.page_size, len(shards) * bool(binary), lead)
    hashes, rendered, skipped, search = _write_pages_and_search(
        env, pages, version, writer, page_hashes, load_content, binary,
        partial(search_index.update_index, writer.root, shards, page_hashes, language, binary),
        pool=binary is None, then=partial(then, model) if then is not None else None)
    hashes.update(search.hashes)
    log.debug("site: %d pages rendered, %d kept; %d search shards rebuilt",
              rendered, skipped, search.rebuilt)
    return SiteResult(hashes, rendered, skipped, search, model,
                      search_failed=binary is not None and not search.available)


def build_site_delta(
    plan: site_delta.DeltaPlan,
    source: search_index.SearchSource,
    config: Config,
    writer: OutputWriter,
    page_hashes: Mapping[str, str],
    load_content: ContentLoader | None = None,
    views: Mapping[str, str] | None = None,
    then: Callable[[Mapping[str, str]], None] | None = None,
) -> SiteResult:
    """Write the pages of ``plan`` (site_delta.py: the pages a change touches) and update the
    search shards its entry keys fall in; like :func:`build_site`, but nothing else is read.
    ``then(page hashes)`` runs once the pages are written, while Pagefind may still index (the
    feeds and the sitemap of a few new articles take as long as its run's tail). The caller
    removes ``plan.remove`` (``writer.keep_others``)."""
    env, version = _prepare(config, writer, views)
    binary = search_index.find_binary()
    hashes, rendered, skipped, search = _write_pages_and_search(
        env, plan.pages, version, writer, page_hashes, load_content, binary,
        partial(search_index.update_tiers, writer.root, source, plan.entry_keys,
                config.site.language, binary, hidden=plan.hidden_keys, floor=plan.floor),
        then=then)
    log.debug("site (changes only): %d pages rendered, %d kept, %d removed; %d search shards "
              "rebuilt", rendered, skipped, len(plan.remove), search.rebuilt)
    return SiteResult(hashes, rendered, skipped, search, SiteLinks(plan.categories),
                      search_failed=binary is not None and not search.available)


def feed_views(health: Iterable[FeedHealth]) -> dict[str, str]:
    """Each feed's catalog view, by key, for those that have one."""
    return {h.key: h.view for h in health if h.view}


def _prepare(config: Config, writer: OutputWriter, views: Mapping[str, str] | None
             ) -> tuple[jinja2.Environment, str]:
    """The templates' environment of a build and the site version: static assets written,
    the environment's globals set. ``views``: each feed's catalog view (the listings' layouts,
    :mod:`.layouts`), by feed key; part of the version, as every listing may depend on it."""
    env = make_environment(config.folder / "templates", ZoneInfo(config.site.timezone),
                           _cache_of(config))
    views = dict(sorted((views or {}).items()))
    env.filters["layout"] = lambda items: layout_of(items, views)
    env.filters["post_text"] = post_text
    assets = _write_assets(writer)
    _set_globals(env, config, assets)
    return env, digest(_site_version(env, assets, config), repr(views))


def _write_pages_and_search(
        env: jinja2.Environment, pages: Iterable[Page], version: str, writer: OutputWriter,
        page_hashes: Mapping[str, str], load_content: ContentLoader | None,
        binary: str | None, index: Callable[..., search_index.IndexResult], *,
        pool: bool = False, then: Callable[[Mapping[str, str]], None] | None = None,
) -> tuple[dict[str, str], int, int, search_index.IndexResult]:
    """The pages, and the search shards (``index``): beside them when Pagefind is there,
    else first (it then only says there is no search); ``then``: see :func:`_write_pages`
    (before the search is waited for)."""
    if binary is None:
        search = index()
        return (*_write_pages(env, pages, version, writer, page_hashes, load_content,
                              pool=pool, then=then), search)
    return _write_pages_beside_search(env, pages, version, writer, page_hashes, load_content,
                                      index, then)


def _cache_of(config: Config) -> Path:
    """Where compiled templates are kept: the state folder (never published)."""
    return config.output.state / "template-cache"


def _write_pages_beside_search(
        env: jinja2.Environment, pages: Iterable[Page], version: str, writer: OutputWriter,
        page_hashes: Mapping[str, str], load_content: ContentLoader | None,
        index: Callable[[threading.Event], search_index.IndexResult],
        then: Callable[[Mapping[str, str]], None] | None = None,
) -> tuple[dict[str, str], int, int, search_index.IndexResult]:
    """:func:`_write_pages` while ``index`` runs in a thread: Pagefind indexes in its own
    process, on another core, while the pages render here; the thread only feeds it records
    and writes the bundles it returns."""
    stop = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="rsspage-search") as pool:
        indexing = pool.submit(index, stop)
        try:
            written = _write_pages(env, pages, version, writer, page_hashes, load_content,
                                   then=then)
            return (*written, indexing.result())
        except BaseException:
            stop.set()
            indexing.add_done_callback(_discard_shards)
            raise


def _discard_shards(indexing: Future[search_index.IndexResult]) -> None:
    """The shards the search thread built before the pages failed are not to be swapped in."""
    if not indexing.cancelled() and indexing.exception() is None:
        indexing.result().discard()


def _write_pages(env: jinja2.Environment, pages: Iterable[Page], version: str,
                 writer: OutputWriter, page_hashes: Mapping[str, str],
                 load_content: ContentLoader | None, *, pool: bool = False,
                 then: Callable[[Mapping[str, str]], None] | None = None,
                 ) -> tuple[dict[str, str], int, int]:
    """Render and write the pages whose input hash changed; (hashes, rendered, skipped).
    ``pool``: many of them may be rendered by worker processes (nothing runs beside).
    ``then(every page's input hash)`` runs once: after the pages, or while worker processes
    render them (this process would only wait: the feeds and sitemap of a full build take
    ~0.4 s)."""
    hashes: dict[str, str] = {}
    stale = _stale(pages, version, writer, page_hashes, hashes)
    if pool:
        every = [page for page, _ in stale]
        if workers := render_pool.workers_for(len(every)):
            meanwhile = partial(then, hashes) if then is not None else None
            for page, out in render_pool.render(env, _by_days(every), _render, load_content,
                                                workers, writer.staging_folder(), meanwhile):
                if isinstance(out, bytes):
                    writer.write(page.path, out, article=_article_id(page))
                else:
                    writer.adopt(page.path, out, article=_article_id(page))
            return hashes, len(every), len(hashes) - len(every)
        stale = ((page, False) for page in every)
    rendered = 0
    relinkable = cache(partial(page_links.relinkable, env))  # asked once, if at all (8 ms)
    # A batch at a time, as ``pages`` come: only a batch of pages is held (and its content).
    while batch := list(islice(stale, _RENDER_BATCH)):
        whole: list[Page] = []
        for page, links_only in batch:
            relinked = page_links.relink(env, page, writer, _root_of(env, page.path)) \
                if links_only and relinkable() else None
            if relinked is None:
                whole.append(page)
            else:
                writer.write(page.path, relinked, article=_article_id(page))
        with _contents_loaded(whole, load_content):
            for page in whole:
                writer.write(page.path, _render(env, page).encode("utf-8"),
                             article=_article_id(page))
        rendered += len(batch)
    if then is not None:
        then(hashes)
    return hashes, rendered, len(hashes) - rendered


def _by_days(pages: list[Page]) -> list[Page]:
    """``pages`` with the listing pages last, newest first by their newest article: the pages
    of the four listings that show an article then go to the same worker together, which
    renders its card once (fragments.Cards)."""
    listings = [page for page in pages if page.template == "listing.html"]
    if not listings:
        return pages
    listings.sort(key=_newest_shown, reverse=True)
    return [page for page in pages if page.template != "listing.html"] + listings


def _newest_shown(page: Page) -> str:
    items = page.context.get("items")
    return str(items[0].iso) if items else ""


def _stale(pages: Iterable[Page], version: str, writer: OutputWriter,
           page_hashes: Mapping[str, str], hashes: dict[str, str],
           ) -> Iterator[tuple[Page, bool]]:
    """The pages to render, and whether only their links changed (page_links.py): those
    whose input hash changed, or whose file cannot be kept. The input hash of every page goes
    into ``hashes``."""
    for page in pages:
        key = page_links.page_key(version, page)  # no second hash: 20,000 pages
        hashes[page.path] = key
        previous = page_hashes.get(page.path)
        if previous != key or not writer.keep(page.path, article=_article_id(page)):
            yield page, page_links.links_only(page, previous, key)


def _article_id(page: Page) -> str | None:
    """The id of the article an article page is for: its file is kept after a state loss."""
    return page.article.article.id if page.article is not None else None


def with_content(articles: Sequence[Article], load: ContentLoader) -> list[Article]:
    """``articles`` with their ``content_html`` from ``load``; one that is gone is an error
    (rendering it empty would record its page as up to date)."""
    found = load([a.id for a in articles])
    missing = [a.id for a in articles if a.id not in found]
    if missing:
        raise PublishError(f"{len(missing)} articles left the store during the build "
                           f"(first: {missing[0]})")
    return [replace(a, content_html=found[a.id]) for a in articles]


@contextmanager
def _contents_loaded(pages: Sequence[Page], load: ContentLoader | None) -> Iterator[None]:
    """Give the articles of ``pages`` their content while they render, then drop it again (a
    full build would otherwise hold all 50 MB of it)."""
    views = [p.article for p in pages if p.article is not None]
    if load is None or not views:
        yield
        return
    originals = [v.article for v in views]
    for view, article in zip(views, with_content(originals, load), strict=True):
        view.article = article
    try:
        yield
    finally:
        for view, original in zip(views, originals, strict=True):
            view.article = original


def make_environment(user_templates: Path, zone: ZoneInfo,
                     cache: Path | None = None) -> jinja2.Environment:
    """One environment per build: user templates first, then the package's. ``cache``: a
    folder for the compiled templates (compiling them is ~0.13 s of a build that renders a
    few pages); a template whose source changed is compiled again."""
    loaders: list[jinja2.BaseLoader] = []
    if user_templates.is_dir():
        loaders.append(jinja2.FileSystemLoader(user_templates))
    loaders.append(jinja2.FileSystemLoader(TEMPLATES))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # no stat() per render: templates cannot change during a build
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_bytecode_cache(cache),
    )
    env.filters["content"] = _content
    env.globals["shared"] = Fragments(env)
    env.globals["cards"] = Cards(env)
    env.filters["localtime"] = lambda stamp: local_time(stamp, zone)
    env.filters["reading_minutes"] = reading_minutes
    env.filters["tight"] = tight_end
    return env


def _bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # it only saves time
    return jinja2.FileSystemBytecodeCache(str(folder))


def _content(html: str) -> Markup:
    """The one place feed HTML becomes markup: it was sanitised in normalise."""
    return Markup(with_image_attributes(html))


def _render(env: jinja2.Environment, page: Page) -> str:
    try:
        template = env.get_template(page.template)
        return template.render(page.context, root=_root_of(env, page.path))
    except jinja2.TemplateError as e:
        # A syntax error names the template it is in: one the page's includes or calls
        # (_cards.html, a shared() fragment), not always the page's own.
        name, where = page.template, ""
        if isinstance(e, jinja2.TemplateSyntaxError):
            name, where = e.name or name, f" (line {e.lineno})"
        raise PublishError(f"template {name}{where}: {e}") from e


def _root_of(env: jinja2.Environment, path: str) -> str:
    """Relative prefix from ``path`` back to the site root (``../../`` for ``a/3f/x.html``)."""
    if path == "404.html":
        # Hosts serve 404.html for a missing path at any depth: it needs root-based links.
        return str(env.globals["absolute_root"])
    return "../" * path.count("/")


def _set_globals(env: jinja2.Environment, config: Config, assets: Mapping[str, str]) -> None:
    lang = "zh" if config.site.language.lower().startswith("zh") else "en"
    site_path = urlsplit(config.site.url).path if config.site.url else ""
    env.globals.update(
        site=config.site,
        t=LABELS[lang],
        assets=assets,
        csp=_BASE_CSP,
        search_csp=_SEARCH_CSP,
        absolute_root=(site_path.rstrip("/") + "/") if site_path else "",
    )


def _write_assets(writer: OutputWriter) -> dict[str, str]:
    """Write ``static/*``; returns name → URL path with a content version for caches."""
    assets = _assets()
    for name, data in assets.items():
        writer.write(f"static/{name}", data)
    return _asset_urls(assets)


def _assets() -> dict[str, bytes]:
    return {file.name: file.read_bytes() for file in sorted(STATIC.iterdir())
            if file.is_file() and not file.name.startswith(".")}


def _asset_urls(assets: Mapping[str, bytes]) -> dict[str, str]:
    return {name: f"static/{name}?v={hashlib.sha256(data).hexdigest()[:10]}"
            for name, data in assets.items()}


def site_version(config: Config) -> str:
    """The digest of everything every page depends on but the articles: templates, static
    assets, the settings pages show, :data:`SITE_FORMAT` (see the module's docstring)."""
    env = make_environment(config.folder / "templates", ZoneInfo(config.site.timezone))
    return _site_version(env, _asset_urls(_assets()), config)


def _site_version(env: jinja2.Environment, assets: Mapping[str, str], config: Config) -> str:
    """Hash of everything every page depends on."""
    loader = env.loader
    assert loader is not None
    sources = []
    try:
        for name in sorted(loader.list_templates()):
            sources.append(name + "\x1d" + loader.get_source(env, name)[0])
    except (jinja2.TemplateError, OSError) as e:
        raise PublishError(f"cannot read the site templates: {e}") from e
    site = config.site
    values: list[Any] = [SITE_FORMAT, site.title, site.url, site.language, site.timezone,
                         config.output.page_size, *sorted(assets.values())]
    return digest(*(str(v) for v in values), *sources)
