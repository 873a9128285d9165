"""What the CLI prints: a progress bar on a terminal, plain log lines otherwise, and tables.

Column widths count East Asian wide characters as two cells, so Chinese names line up.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from rsspage.types import FeedOutcome, FetchResult, FetchStatus, Route, RunReport

if TYPE_CHECKING:
    from rsspage.config import Config
    from rsspage.store import FeedHealth, SearchHit


def cell_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, width: int) -> str:
    out: list[str] = []
    used = 0
    for c in text:
        w = cell_width(c)
        if used + w > width - (1 if used + w < cell_width(text) else 0):
            return "".join(out) + "…"
        out.append(c)
        used += w
    return "".join(out)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_width: int = 40) -> str:
    cells = [[clip(str(c), max_width) for c in row] for row in rows]
    widths = [max([cell_width(h)] + [cell_width(r[i]) for r in cells])
              for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - cell_width(c)) for c, w in zip(row, widths, strict=True))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)]).rstrip()


class Console:
    """Messages go to ``err`` (progress, logs, errors); results go to ``out``."""

    def __init__(self, err: TextIO, out: TextIO) -> None:
        self.err, self.out = err, out
        self.tty = err.isatty()

    def start(self, message: str) -> None:
        print(message, file=self.err)

    def error(self, message: str) -> None:
        if self.tty:
            self.err.write("\r\033[K")
        print(f"rsspage: error: {message}", file=self.err)

    def progress(self, total: int) -> Callable[[FetchResult], None]:
        done = 0

        def on_fetched(result: FetchResult) -> None:
            nonlocal done
            done += 1
            if self.tty:
                filled = int(30 * done / max(total, 1))
                bar = "#" * filled + "." * (30 - filled)
                self.err.write(f"\r\033[Kfetching [{bar}] {done}/{total} {clip(result.key, 40)}")
                self.err.flush()
            else:
                state = result.status.value if not result.error else f"failed: {result.error}"
                print(f"fetched {result.key}: {state}", file=self.err)

        return on_fetched

    def outcome(self, outcome: FeedOutcome) -> None:
        for warning in outcome.warnings:
            self.error_line(f"warning: {warning}")

    def error_line(self, message: str) -> None:
        if self.tty:
            self.err.write("\r\033[K")
        print(message, file=self.err)

    def summary(self, report: RunReport) -> None:
        if self.tty:
            self.err.write("\r\033[K")
        counts = {s: sum(1 for o in report.outcomes if o.status is s) for s in FetchStatus}
        rows = [
            ["feeds ok", str(counts[FetchStatus.OK])],
            ["feeds unchanged (304)", str(counts[FetchStatus.NOT_MODIFIED])],
            ["feeds failed", str(len(report.failed))],
            ["new articles", str(report.new)],
            ["updated articles", str(report.updated)],
        ]
        rows += [[f"{name} files written / removed", f"{w} / {r}"]
                 for name, (w, r) in report.published.items()]
        rows.append(["time", f"{report.seconds:.1f} s"])
        print(table(["summary", ""], rows), file=self.out)
        if report.failed:
            print("\nfailed feeds:", file=self.out)
            print(table(["feed", "status", "error"],
                        [[o.key, o.status.value, o.error or ""] for o in report.failed], 70),
                  file=self.out)

    def health(self, rows: Sequence[FeedHealth]) -> None:
        print(table(
            ["feed", "category / source / channel", "state", "last success", "failures",
             "articles", "7 days", "last error"],
            [[h.key, f"{h.category} / {h.source or h.title} / {h.channel or h.title}",
              h.last_status or "never fetched", (h.last_success or "never")[:19],
              str(h.consecutive_failures), str(h.articles), str(h.recent),
              (h.last_error or "") if h.consecutive_failures else ""] for h in rows],
        ), file=self.out)

    def hits(self, hits: Sequence[SearchHit]) -> None:
        if not hits:
            print("no matches", file=self.out)
        for hit in hits:
            print(f"{hit.published[:10]}  {hit.title}\n"
                  f"            {hit.category} / {hit.source} / {hit.channel}  {hit.link}\n"
                  f"            {hit.snippet}", file=self.out)

    def routes(self, routes: Sequence[Route]) -> None:
        print(table(["category", "source", "channel", "example"],
                    [[r.category, r.source, r.channel, r.example or r.path] for r in routes]),
              file=self.out)
        print(f"{len(routes)} routes", file=self.err)

    def demo_done(self, config: Config) -> None:
        print(f"\ndemo config: {config.path}", file=self.out)
        print(f"state:       {config.output.state}", file=self.out)
        if config.output.hexo:
            print(f"hexo posts:  {config.output.hexo}", file=self.out)
        if config.output.site:
            print(f"site:        {config.output.site}/index.html", file=self.out)
            print("\nopen the site (with pictures, served on 127.0.0.1):\n"
                  f"  rsspage demo --serve {config.folder}\n"
                  f"or search it from the terminal:\n"
                  f"  rsspage search -c {config.path} 芯片", file=self.out)
