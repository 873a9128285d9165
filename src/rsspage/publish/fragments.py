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

import jinja2
from markupsafe import Markup


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
