"""Publishing: every file rsspage puts on disk, always through :class:`writer.OutputWriter`.

``writer`` (safe, atomic, manifest-tracked writes), ``names`` (safe file names from feed text),
``hexo`` (Hexo posts), and the outputs built on them (static site, feeds).
"""
