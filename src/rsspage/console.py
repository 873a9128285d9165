"""What the CLI prints: a progress bar on a terminal, plain log lines otherwise, and tables.

Column widths count East Asian wide characters as two cells, so Chinese names line up.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from rsspage.publish.site_size import SiteCounts, describe
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


#: Characters Markdown could read as markup in feed text; a backslash makes each literal.
_MARKDOWN_SPECIAL = frozenset("\\`*_[]<>|~&!#")
_MARKDOWN_CELL = 300
#: Width of the error column of failed feeds and of `status` (a wide table); longer errors are
#: printed whole below the table.
_ERROR_CELL = 70
_STATUS_ERROR_CELL = 40


def markdown_cell(text: str) -> str:
    """Feed text as one literal table cell: no markup, no line breaks, at most 300 characters."""
    flat = " ".join(text.split())  # newlines would end the table row
    if len(flat) > _MARKDOWN_CELL:
        flat = flat[:_MARKDOWN_CELL - 1] + "…"
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in flat)


def summary_rows(report: RunReport) -> list[tuple[str, str]]:
    """The rows of a run's summary table (label, value): the terminal's and the job summary's."""
    counts = {s: sum(1 for o in report.outcomes if o.status is s) for s in FetchStatus}
    rows = [
        ("feeds ok", str(counts[FetchStatus.OK])),
        ("feeds unchanged (304)", str(counts[FetchStatus.NOT_MODIFIED])),
        ("feeds failed", str(len(report.failed))),
        ("feeds skipped (not due)", str(len(report.skipped))),
        ("new articles", str(report.new)),
        ("updated articles", str(report.updated)),
    ]
    if report.blocked:  # only when filter rules hid something: other summaries stay as they were
        rows.append(("new articles hidden by filters", str(report.blocked)))
    if report.merged:  # stories another feed had brought: stored once, not counted as new
        rows.append(("stories another feed brought first", str(report.merged)))
    if report.full_text or report.full_text_failed:  # only when a feed has full_text
        rows.append(("full text fetched / failed",
                     f"{report.full_text} / {report.full_text_failed}"))
    return rows + output_rows(report)


def output_rows(report: RunReport) -> list[tuple[str, str]]:
    """What the run did to each output (files written / removed, the site's size) and its time:
    the end of an update's summary, the whole of a build's job summary (it fetches nothing)."""
    rows = []
    for name, c in report.published.items():
        rows.append((f"{name} files written / removed", f"{c.written} / {c.removed}"))
        if isinstance(c, SiteCounts) and c.size is not None:
            rows.append((f"{name} size", describe(c.size)))
    rows.append(("time", f"{report.seconds:.1f} s"))
    return rows


def output_warnings(report: RunReport) -> list[str]:
    """What the outputs warn of (a site near its host's limits), one line each."""
    return [warning for c in report.published.values() if isinstance(c, SiteCounts)
            for warning in c.warnings]


def markdown_summary(report: RunReport, command: str = "update") -> str:
    """The summary table and the failed feeds as GitHub-flavoured Markdown; ``command``
    ``"build"``: only what was published (a build fetches nothing), with the same warnings."""
    rows = output_rows(report) if command == "build" else summary_rows(report)
    lines = [f"### rsspage {command}", "", "| | |", "| --- | ---: |"]
    lines += [f"| {markdown_cell(name)} | {value} |" for name, value in rows]
    unknown = [f"{markdown_cell(name)}: {c.unknown}" for name, c in report.published.items()
               if c.unknown]
    for warning in output_warnings(report):  # apart: one blockquote each
        lines += ["", f"> **Warning**: {markdown_cell(warning)}"]
    if unknown:  # in Actions, most likely a state branch that was deleted
        lines += ["", "> **Warning**: the archive is younger than the output "
                  f"({', '.join(unknown)} published articles are not in it); their files are "
                  "kept. Bring it back with `rsspage restore`."]
    if report.failed:
        lines += ["", "#### Failed feeds", "",
                  "| feed | status | error |", "| --- | --- | --- |"]
        lines += [f"| {markdown_cell(o.key)} | {o.status.value} | {markdown_cell(o.error or '')} |"
                  for o in report.failed]
    return "\n".join(lines) + "\n\n"


#: The first line of the job summary's block when the outputs could not be written; the
#: workflow's Update step looks for it to tell this failure from "some feeds failed" (both
#: exit 1).
PUBLISH_FAILED = "### rsspage: the output could not be written"


def markdown_publish_error(command: str, message: str) -> str:
    """The job summary's block for a run whose outputs could not be written (disk full, a
    template error): what failed, in the error's own words, and what stays as it was."""
    stored = "What was fetched is stored in the archive. " if command == "update" else ""
    return (f"{PUBLISH_FAILED}\n\n"
            f"`rsspage {command}` failed while writing the outputs: {markdown_cell(message)}\n\n"
            f"{stored}The files already published stay as they were (a file is replaced whole "
            "or not at all). Fix the cause; the next run writes what is missing.\n\n")


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
        print(table(["summary", ""], summary_rows(report)), file=self.out)
        for warning in output_warnings(report):
            print(f"warning: {warning}", file=self.err)
        self.younger_archive({n: c.unknown for n, c in report.published.items() if c.unknown})
        if report.blocked:
            print("\nhidden by filter rules (stored, not published):", file=self.out)
            print(table(["feed", "new articles hidden"],
                        [[o.key, str(o.blocked)] for o in report.outcomes if o.blocked]),
                  file=self.out)
        if report.full_text_failed:
            print("\nfull text not fetched (the feed's summary kept):", file=self.out)
            print(table(["feed", "full text", "failed"],
                        [[o.key, str(o.full_text), str(o.full_text_failed)]
                         for o in report.outcomes if o.full_text_failed]), file=self.out)
        if report.failed:
            print("\nfailed feeds:", file=self.out)
            print(table(["feed", "status", "error"],
                        [[o.key, o.status.value, o.error or ""] for o in report.failed],
                        _ERROR_CELL), file=self.out)
            self._whole_errors([(o.key, o.error or "") for o in report.failed], _ERROR_CELL)

    def _whole_errors(self, errors: Sequence[tuple[str, str]], width: int) -> None:
        """The errors a table clipped, whole: their end says what to do ("set key_env in
        rsshub.instances", "run your own")."""
        clipped = [(key, error) for key, error in errors if cell_width(error) > width]
        if clipped:
            print("\nerrors in full:", file=self.out)
            for key, error in clipped:
                print(f"  {key}: {error}", file=self.out)

    def younger_archive(self, unknown: Mapping[str, int]) -> None:
        """Say plainly that the outputs hold articles the archive does not know, and what to do."""
        if not unknown:
            return
        where = ", ".join(f"{name}: {count}" for name, count in unknown.items())
        print(f"\nwarning: the archive is younger than the output: {where} published articles "
              "are not in it (a lost or older state folder). Their files are kept, never "
              "deleted for this, and the same article arriving again keeps its file name.\n"
              "  bring the archive back: rsspage restore FILE (an export, or the folder of "
              "parts on the rsspage-state branch), then rsspage build", file=self.out)

    def job_summary(self, report: RunReport, path: str | None, command: str = "update") -> None:
        """Append the summary of ``rsspage COMMAND`` as Markdown to ``path`` (GitHub's
        ``$GITHUB_STEP_SUMMARY``).

        Appended, because the file collects every step's summary. Failing to write it only
        warns: the run itself went fine.
        """
        self._append_summary(markdown_summary(report, command), path)

    def job_publish_error(self, command: str, message: str, path: str | None) -> None:
        """Append to ``path`` (``$GITHUB_STEP_SUMMARY``) that the outputs could not be written."""
        self._append_summary(markdown_publish_error(command, message), path)

    def _append_summary(self, text: str, path: str | None) -> None:
        if not path:
            return
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            self.error_line(f"warning: cannot write the job summary {path}: {e.strerror or e}")

    def health(self, rows: Sequence[FeedHealth], due: Mapping[str, str] | None = None,
               notes: Sequence[str] = ()) -> None:
        """The feeds' health; ``due``: key → when next due; ``notes``: lines printed after."""
        due = due or {}
        retired = [h for h in rows if h.retired_at]
        rows = [h for h in rows if not h.retired_at]
        print(table(
            ["feed", "category / source / channel", "state", "last success", "next due",
             "failures", "articles", "7 days", "last error"],
            [[h.key, f"{h.category} / {h.source or h.title} / {h.channel or h.title}",
              h.last_status or "never fetched", (h.last_success or "never")[:19],
              due.get(h.key, ""), str(h.consecutive_failures), str(h.articles), str(h.recent),
              (h.last_error or "") if h.consecutive_failures else ""] for h in rows],
            _STATUS_ERROR_CELL), file=self.out)
        self._whole_errors([(h.key, h.last_error or "") for h in rows
                            if h.consecutive_failures], _STATUS_ERROR_CELL)
        if retired:
            print("\nretired (no longer in the config; kept with their articles; "
                  "`rsspage forget FEED` deletes one):", file=self.out)
            print(table(["feed", "category / source / channel", "retired since", "articles"],
                        [[h.key, f"{h.category} / {h.source or h.title} / {h.channel or h.title}",
                          (h.retired_at or "")[:19], str(h.articles)] for h in retired]),
                  file=self.out)
        if notes:
            print("", *notes, sep="\n", file=self.out)

    def hits(self, hits: Sequence[SearchHit]) -> None:
        if not hits:
            print("no matches", file=self.out)
        for hit in hits:
            print(f"{hit.published[:10]}  {hit.title}\n"
                  f"            {hit.category} / {hit.source} / {hit.channel}  {hit.link}\n"
                  f"            {hit.snippet}", file=self.out)

    def routes(self, routes: Sequence[Route]) -> None:
        """The routes, with what each needs (``config``: settings on the RSSHub instance,
        ``puppeteer``: a headless browser there, ``nsfw``: marked not safe for work)."""
        text = table(["category", "source", "channel", "example", "flags"],
                     [[r.category, r.source, r.channel, r.example or r.path, ",".join(r.flags)]
                      for r in routes])
        print("\n".join(line.rstrip() for line in text.split("\n")), file=self.out)
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
