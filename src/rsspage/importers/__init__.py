"""Bringing what a user already has into rsspage: subscriptions (OPML) and old archives.

Each importer is its own module; ``opml`` turns a subscriptions file into config entries
(``routes`` / ``feeds``) that :mod:`rsspage.config_edit` appends to ``rsspage.yml``.
"""
