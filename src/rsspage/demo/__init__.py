"""The bundled demo: sample feeds and a local RSSHub-like server for ``rsspage demo``.

- ``data/feeds.json``: 14 sources in 7 categories, Chinese and English, ~240 articles, most
  with pictures, and one feed for each kind of view: a text-only 快讯 feed, a picture feed, a
  social timeline, a podcast (audio enclosures) and a video channel (covers, no video file).
  Every text is invented for rsspage (no real articles); people, companies and figures are
  fictional. Some items are deliberately awkward, as real feeds are: titles with ``%``,
  quotes, ``#``, ``{{ }}`` and emoji, lazy ``data-src`` images, a relative image URL, a
  ``<script>`` and an ``onclick`` for the sanitiser to strip, items without a date.
- ``data/demo-routes.json``: those routes as an RSSHub ``routes.json`` catalog.
- ``server``: ``serve_demo()`` (RSS 2.0, Atom, JSON Feed, a GBK feed, pictures, a podcast's
  audio with byte ranges, conditional GET) and ``write_demo_config()``. ``sample``, ``render``,
  ``images`` and ``audio`` are its parts.
- ``run``: ``run_demo()``, what ``rsspage demo`` calls: serve, write the config, update.
"""
