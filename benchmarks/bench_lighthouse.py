"""Lighthouse scores of the demo site (issue 13): home, a category, an article and search,
mobile and desktop, with Debian's chromium.

Usage::

    .venv/bin/python benchmarks/bench_lighthouse.py [--runs 3] [--json out.json]

Builds the bundled demo (``rsspage update`` against the demo feed server on 127.0.0.1), serves
it with ``rsspage.serve``, and runs Lighthouse (installed from the npm registry into
``~/.cache/rsspage-bench/lighthouse`` once) against each page: mobile is Lighthouse's default
(a Moto G Power with simulated slow 4G), desktop its ``--preset=desktop``. Each score is the
median of ``--runs`` runs. The issue's targets: Performance >= 95, Accessibility 100, Best
Practices 100, SEO >= 95. Needs node and npm (Debian's), and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from rsspage.demo.server import serve_demo, write_demo_config
from rsspage.serve import serving

LIGHTHOUSE = "^12.0.0"
CACHE = Path(os.environ.get("RSSPAGE_BENCH_CACHE", Path.home() / ".cache" / "rsspage-bench"))
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 95}


def install_lighthouse() -> Path:
    folder = CACHE / "lighthouse"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps({"private": True, "dependencies": {"lighthouse": LIGHTHOUSE}})
    stamp = folder / "installed.json"
    if not (stamp.exists() and stamp.read_text() == manifest):
        (folder / "package.json").write_text(manifest)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=folder, check=True, timeout=900)
        stamp.write_text(manifest)
    return folder / "node_modules" / ".bin" / "lighthouse"


def build_demo(folder: Path, feeds: str) -> Path:
    config = write_demo_config(folder, feeds)
    subprocess.run([sys.executable, "-m", "rsspage.cli", "update", "-c", str(config)], check=True,
                   capture_output=True)
    return folder / "public"


def first_article(root: Path) -> str:
    """The path of the home page's first article."""
    html = (root / "index.html").read_text(encoding="utf-8")
    start = html.index('href="', html.index('class="cards"')) + len('href="')
    return html[start:html.index('"', start)]


def scores(lighthouse: Path, url: str, form: str, work: Path) -> dict[str, float]:
    out = work / "report.json"
    preset = ["--preset=desktop"] if form == "desktop" else []
    subprocess.run(
        [str(lighthouse), url, *preset, "--quiet", "--output=json", f"--output-path={out}",
         f"--only-categories={','.join(CATEGORIES)}",
         "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
        check=True, env={**os.environ, "CHROME_PATH": CHROMIUM}, timeout=300)
    report = json.loads(out.read_text(encoding="utf-8"))
    return {c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("npm") is None or not Path(CHROMIUM).exists():
        print("needs npm and /usr/bin/chromium", file=sys.stderr)
        return 2
    lighthouse = install_lighthouse()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, serve_demo(0) as feeds:
        root = build_demo(Path(tmp), feeds)
        pages = {"home": "index.html", "category": quote("c/金融/index.html"),
                 "article": first_article(root), "search": "search.html?q=" + quote("芯片")}
        with serving(root, 0, rebuild=None, watch=None) as url:
            for form in ("mobile", "desktop"):
                for name, path in pages.items():
                    runs = [scores(lighthouse, url + path, form, Path(tmp))
                            for _ in range(args.runs)]
                    results[f"{name} ({form})"] = {
                        c: statistics.median(r[c] for r in runs) for c in CATEGORIES}
                    print(f"{name} ({form}): {results[f'{name} ({form})']}", flush=True)
    print("\n| page | Performance | Accessibility | Best Practices | SEO |")
    print("|---|---|---|---|---|")
    for page, got in results.items():
        print(f"| {page} | " + " | ".join(f"{got[c]:g}" for c in CATEGORIES) + " |")
    missed = [f"{page} {c} {got[c]:g} < {TARGETS[c]}" for page, got in results.items()
              for c in CATEGORIES if got[c] < TARGETS[c]]
    print("\ntargets met" if not missed else "\nmissed: " + "; ".join(missed))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
