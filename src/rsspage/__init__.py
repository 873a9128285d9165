"""rsspage: turn a catalog of RSSHub routes and feeds into a news site."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rsspage")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
