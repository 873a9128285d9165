"""Commands that move the archive as a whole: export, restore, migrate, forget."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
from datetime import UTC, datetime
from pathlib import Path

from rsspage.cli.common import EXIT_FEEDS_FAILED, EXIT_OK, Commands, add_command, report_exit
from rsspage.config import load_config
from rsspage.console import Console, table
from rsspage.errors import PublishError, StoreError
from rsspage.publish.manifest import published_files
from rsspage.redact import redact_url
from rsspage.store import Store, pg
from rsspage.store.db import run_lock
from rsspage.store.migrate import Migration, copy_archive


def register(sub: Commands) -> None:
    export = add_command(sub, "export", "write the whole archive as compressed JSON Lines",
                         cmd_export)
    export.add_argument("file", nargs="?", type=Path,
                        help="file to write (default: rsspage-export-YYYY-MM-DD.jsonl.gz)")
    export.add_argument("--parts", metavar="DIR", type=Path,
                        help="write parts into DIR instead: feeds.jsonl.gz and one "
                        "articles-YYYY-MM.jsonl.gz per month; unchanged parts are not rewritten")
    restore = add_command(sub, "restore", "bring an export (file or folder of parts) back "
                          "into the archive; restoring twice changes nothing", cmd_restore)
    restore.add_argument("path", type=Path, help="an export file or a folder of parts")
    migrate = add_command(sub, "migrate", "copy the whole archive into another, empty store "
                          "(SQLite into PostgreSQL, or back), verified by counts and checksums",
                          cmd_migrate)
    to = migrate.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", metavar="TARGET", help="a postgresql:// URL, or a state folder "
                    "for SQLite")
    to.add_argument("--to-env", metavar="NAME", help="the environment variable holding the "
                    "target's URL (keeps its password off the command line)")
    forget = add_command(sub, "forget", "delete a feed, its articles and their files on purpose",
                         cmd_forget)
    forget.add_argument("feed", help="the feed's key: a route path (/kkj/news) or a feed URL")
    forget.add_argument("--yes", action="store_true", help="delete (without it: only show)")


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.open(config.output.state, config.store_url) as store:
        if args.parts is not None:
            if args.file is not None:
                raise StoreError("give either FILE or --parts DIR, not both")
            counts = store.export_parts(args.parts)
            from rsspage.catalog.live import carry_cache  # loads the fetching stage: only here

            carry_cache(config.output.state, args.parts)  # the catalog travels with it
            where = f"{args.parts}/ ({counts.written} parts written, {counts.unchanged} "\
                    f"unchanged, {counts.removed} removed)"
        else:
            path = args.file or Path(f"rsspage-export-{datetime.now(UTC):%Y-%m-%d}.jsonl.gz")
            counts = store.export(path)
            where = str(path)
    print(f"exported {counts.feeds} feeds and {counts.articles} articles to {where}",
          file=console.out)
    return EXIT_OK


def cmd_restore(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.locked(config.output.state, config.store_url) as store:
        counts = store.restore(args.path)
        if args.path.is_dir():
            from rsspage.catalog.live import carry_cache

            carry_cache(args.path, config.output.state)
    print(f"restored from {args.path}: {counts.feeds} feeds; articles: {counts.new} new, "
          f"{counts.updated} updated, {counts.unchanged} already there; {counts.names} "
          f"published names", file=console.out)
    if counts.gone:
        print(f"{counts.gone} articles stay removed: they were removed on purpose (pruned or "
              "forgotten) after the other copy was made", file=console.out)
    if counts.names_taken:
        print(f"{counts.names_taken} published names were not restored: their paths belong to "
              "other articles now", file=console.out)
    print(f"publish them with: rsspage build -c {config.path}", file=console.err)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    target = args.to if args.to is not None else os.environ.get(args.to_env, "")
    if not target:
        raise StoreError(f"the environment variable {args.to_env} is not set (or empty)")
    url = target if pg.is_url(target) else None
    folder = None if url else Path(target)
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(Store.locked(config.output.state, config.store_url))
        if folder is not None and folder.resolve() == config.output.state.resolve() and (
                config.store_url is None):
            raise StoreError(f"{folder} is the archive's own state folder")
        stack.enter_context(pg.run_lock(url) if url else run_lock(folder or Path()))
        copied = copy_archive(source, stack.enter_context(Store.open(folder or Path(), url)))
    _show_migration(copied, _store_name(config.store_url, config.output.state),
                    _store_name(url, folder), console)
    if copied.differing:
        console.error_line(f"the copy differs from the archive in {', '.join(copied.differing)}"
                           ": do not use it; report this as a bug")
        return EXIT_FEEDS_FAILED
    return EXIT_OK


def _store_name(url: str | None, folder: Path | None) -> str:
    return redact_url(url) if url else f"SQLite in {folder}"


def _show_migration(copied: Migration, source: str, target: str, console: Console) -> None:
    a, b = copied.source, copied.target
    rows = [["feeds", str(a.feeds), str(b.feeds)], ["articles", str(a.articles), str(b.articles)],
            ["export parts", str(len(a.parts)), str(len(b.parts))],
            ["sha-256", a.digest[:16], b.digest[:16]]]
    print(f"copied {source} into {target}", file=console.out)
    print(table(["", "source", "copy"], rows), file=console.out)
    print(f"page hashes copied: {copied.page_hashes}", file=console.out)
    if not copied.differing:
        print(f"verified: the copy holds the same records (sha-256 {a.digest})", file=console.out)


def cmd_forget(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.open(config.output.state, config.store_url) as store:
        keys = store.feed_keys()
        if args.feed not in keys:
            close = difflib.get_close_matches(args.feed, sorted(keys), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise StoreError(f"no feed {args.feed!r} in the archive{hint}")
        articles = store.feed_articles(args.feed)
    doomed = [(article_id, title) for article_id, title, shared in articles if not shared]
    try:
        files = published_files(config, {article_id for article_id, _ in doomed})
    except PublishError as e:  # a damaged manifest: say so, the deletion itself needs none
        console.error_line(f"warning: the files cannot be listed: {e}")
        files = []
    _show_forget(args.feed, doomed, len(articles) - len(doomed), files, console)
    configured = {r.path for r in config.routes} | {f.url for f in config.feeds}
    if args.feed in configured:
        print(f"note: {args.feed} is still in {config.path.name}: the next update follows it "
              "again (remove it there to stop)", file=console.err)
    if not args.yes:
        print("nothing deleted; run again with --yes to delete all of this", file=console.out)
        return EXIT_OK
    with Store.locked(config.output.state, config.store_url) as store:
        removed, handed = store.forget_feed(args.feed, datetime.now(UTC))
    print(f"forgot {args.feed}: {removed} articles deleted from the archive"
          + (f", {handed} kept with the other feeds that brought them" if handed else ""),
          file=console.out)
    from rsspage.build import build  # the site's templates: only once something changed

    return report_exit(build(config), console)


def _show_forget(key: str, articles: list[tuple[str, str]], shared: int, files: list[str],
                 console: Console) -> None:
    print(f"feed {key}: {len(articles)} articles, {len(files)} published files", file=console.out)
    if shared:
        print(f"  (and {shared} articles other feeds brought too: they stay, with those feeds)",
              file=console.out)
    for _, title in articles[:10]:
        print(f"  article: {title}", file=console.out)
    if len(articles) > 10:
        print(f"  … and {len(articles) - 10} more articles", file=console.out)
    for path in files[:10]:
        print(f"  file: {path}", file=console.out)
    if len(files) > 10:
        print(f"  … and {len(files) - 10} more files", file=console.out)
