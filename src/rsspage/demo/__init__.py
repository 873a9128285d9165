"""The bundled demo: sample feeds and a local RSSHub-like server for ``rsspage demo``.

- ``data/feeds.json``: 9 sources in 4 categories, Chinese and English, ~190 articles with
  pictures. Every text is invented for rsspage (no real articles); people, companies and
  figures are fictional. Some items are deliberately awkward, as real feeds are: titles with
  ``%``, quotes, ``#``, ``{{ }}`` and emoji, lazy ``data-src`` images, a relative image URL,
  a ``<script>`` and an ``onclick`` for the sanitiser to strip, items without a date.
- ``data/demo-routes.json``: those routes as an RSSHub ``routes.json`` catalog.
- ``server``: ``serve_demo()`` (RSS 2.0, Atom, JSON Feed, a GBK feed, pictures, conditional
  GET) and ``write_demo_config()``. ``sample``, ``render`` and ``images`` are its parts.
- ``run``: ``run_demo()``, what ``rsspage demo`` calls: serve, write the config, update.
"""
