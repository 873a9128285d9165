"""The parts every page repeats, rendered once per build instead of once per page (issue 10).

The site's top bar, footer, asset links, feed links and breadcrumbs are the same on every page
of one depth (the relative ``root``) and, for the last two, of one channel. Rendered by an
``{% include %}`` on each of 22,000 pages they were ~15 % of an article page's rendering
(escaping the same labels and links again each time). Templates call them as
``{{ shared("_top.html", root=root) }}`` instead: the fragment is rendered with only the
variables named there (and the environment's globals), once per distinct set of them, and its
markup reused. So a fragment must depend on nothing else; one given a value that cannot be a
dictionary key (a list) is rendered every time.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import jinja2
from markupsafe import Markup, escape

from rsspage.publish.site_model import ArticleView


class Fragments:
    """``shared(name, **variables)`` for the templates of one environment (one build)."""

    def __init__(self, env: jinja2.Environment) -> None:
        self._env = env
        self._rendered: dict[tuple[object, ...], Markup] = {}

    def __call__(self, name: str, **variables: object) -> Markup:
        key = (name, *sorted(variables.items()))
        try:
            return self._rendered[key]
        except KeyError:
            html = self._rendered[key] = self._render(name, variables)
        except TypeError:  # a value that is no key: nothing to share
            html = self._render(name, variables)
        return html

    def _render(self, name: str, variables: dict[str, object]) -> Markup:
        return Markup(self._env.get_template(name).render(variables))


class Cards:
    """``cards(items, layout, root)``: the cards of a listing page (``_cards.html``).

    Each article is on four listings (the home page, its category, source and channel), each
    at its own depth, and its card was most of rendering them. A card is rendered once per
    build, article and layout, with a stand-in for ``root`` that each page replaces with its
    own; the cards a page misses are rendered together, in one call of the template (a call
    per card cost more than the card). The stand-in and the mark between cards hold a token
    drawn for the build: no feed text can contain them. At most ``limit`` cards are held; a
    full build renders the listing pages of the same days together (site._by_days).
    """

    def __init__(self, env: jinja2.Environment, limit: int = 8_000) -> None:
        self._env = env
        self._limit = limit
        token = secrets.token_hex(8)
        self._root = f"\x00root {token}\x00"
        self._end = f"\x00end {token}\x00"
        self._rendered: dict[tuple[str, str], str] = {}
        self._checked = False

    def __call__(self, items: Iterable[ArticleView], layout: str, root: str) -> Markup:
        shown = _one_per_cluster(items)
        keys = [(view.card_key, layout) for view in shown]
        missing = {key: view for key, view in zip(keys, shown, strict=True)
                   if key not in self._rendered}
        if missing:
            if len(self._rendered) + len(missing) > self._limit:
                self._rendered.clear()
                missing = dict(zip(keys, shown, strict=True))
            self._render(missing, layout)
        html = "".join(self._rendered[key] for key in keys)
        return Markup(html.replace(self._root, escape(root)))

    def _render(self, missing: dict[tuple[str, str], ArticleView], layout: str) -> None:
        template = self._env.get_template("_cards.html")
        # A card is what comes before its {{ end }}: anything written outside the loop (once
        # per build, checked with no card) or after the last end would go to the wrong card.
        if not self._checked and self._cards(template, [], layout).strip():
            raise jinja2.TemplateError(_MISPLACED)
        self._checked = True
        parts = self._cards(template, list(missing.values()), layout).split(self._end)
        if len(parts) != len(missing) + 1 or parts[-1].strip():
            raise jinja2.TemplateError(_MISPLACED)
        self._rendered.update(zip(missing, parts[:-1], strict=True))

    def _cards(self, template: jinja2.Template, items: list[ArticleView], layout: str) -> str:
        return template.render(items=items, layout=layout, root=self._root, end=self._end)


_MISPLACED = "_cards.html must write {{ end }} after each card, and nothing outside its loop"


def _one_per_cluster(items: Iterable[ArticleView]) -> list[ArticleView]:
    """``items`` but the articles of a story cluster after its first (the newest on a page):
    a story shows once per page, its card saying how many other sources reported it."""
    seen: set[str] = set()
    shown = []
    for view in items:
        if view.cluster:
            if view.cluster in seen:
                continue
            seen.add(view.cluster)
        shown.append(view)
    return shown
