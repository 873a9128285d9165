"""The one exception tree of rsspage.

::

    RsspageError
     ├── ConfigError     bad or unreadable config (file:line: key: message) → exit 2
     ├── CatalogError    unreadable catalog file
     ├── FetchError      network/HTTP failure of one feed (caught per feed)
     ├── ParseError      bytes that are not a feed (caught per feed)
     ├── StoreError      SQLite failure, locked state
     │    └── ArchiveBusy  another run holds the state folder's run lock
     └── PublishError    a file could not be written safely

Foreign errors (OSError, sqlite3.Error, httpx.HTTPError, yaml.YAMLError …) are translated at the
module that meets them, chained with ``raise ... from e``.
"""

from __future__ import annotations


class RsspageError(Exception):
    """Base of every error rsspage raises on purpose; its message is meant for the user."""


class ConfigError(RsspageError):
    """The config is invalid. The message reads ``file:line: key: what is wrong``."""

    def __init__(self, file: str, line: int | None, key: str, problem: str) -> None:
        self.file, self.line, self.key, self.problem = file, line, key, problem
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


class CatalogError(RsspageError):
    """A catalog file could not be read or understood."""


class FetchError(RsspageError):
    """A feed could not be fetched."""


class ParseError(RsspageError):
    """Bytes that could not be read as a feed."""


class StoreError(RsspageError):
    """The state database failed or is locked by another run."""


class ArchiveBusy(StoreError):
    """Another rsspage run holds the state folder's run lock."""


class PublishError(RsspageError):
    """An output file could not be written safely."""
