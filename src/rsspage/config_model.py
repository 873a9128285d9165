"""The shape of ``rsspage.yml`` as pydantic models: what is checked, and the JSON Schema.

Validation is strict (``20`` is a number, ``"20"`` is text, as YAML typed them) and forbids
unknown keys. Checks that need the config's place (catalog files relative to it) or the
environment (``key_env``, ``headers: {Cookie: {env: NAME}}``) read them from the validation
context (:data:`FOLDER`, :data:`ENVIRON`); without one (the schema) they are skipped.
Shorthands (a route as its path, a feed as its URL, an instance as its URL, a header as its
value, one pattern for a list) are widened to their mapping form before validation; their schema
says both forms. :mod:`rsspage.config` turns errors into ``file:line: key: problem`` and the
models into the records of :mod:`rsspage.config_types`.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from rsspage.config_nodes import parse_duration
from rsspage.filters import FIELDS, compile_pattern
from rsspage.types import MAX_NAME_BYTES

#: Validation context keys.
FOLDER, ENVIRON = "folder", "environ"
#: The shortest ``every``: a feed due again at once would keep `watch` spinning.
MIN_EVERY = timedelta(seconds=1)
#: The word in ``rsshub.catalog`` for the instances' live catalog (``/api/namespace``).
LIVE_CATALOG = "instance"
#: ``site.host``: hosts whose limits rsspage knows (publish/hosts.py), and none.
SITE_HOSTS = ("github-pages", "cloudflare-pages", "netlify", "none")
#: ``output.hexo_date`` words; anything else must be an IANA zone.
HEXO_DATE_WORDS = ("auto", "gmt")


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _context(info: ValidationInfo, key: str) -> Any:
    return info.context.get(key) if isinstance(info.context, Mapping) else None


# --------------------------------------------------------------------------- value types

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30m, 2h or 1d, got {value!r}")
    return value  # anything else: the timedelta check names what it got


def _at_least(low: timedelta) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value < low:
            raise ValueError(f"must be at least {low.total_seconds():g}s, got "
                             f"{value.total_seconds():g}s")
        return value
    return AfterValidator(check)


_DURATION_SCHEMA = WithJsonSchema({
    "type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*[smhdwSMHDW]\s*)+$",
    "description": "a duration: 30s, 30m, 2h, 1d, 1w, or sums like 1h30m"})
Duration = Annotated[timedelta, BeforeValidator(_duration), _DURATION_SCHEMA]
Every = Annotated[timedelta, BeforeValidator(_duration), _at_least(MIN_EVERY), _DURATION_SCHEMA]


def _zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {value!r}") from e
    return value


Zone = Annotated[Text, AfterValidator(_zone),
                 Field(description="an IANA time zone, such as Asia/Shanghai")]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value


HttpUrl = Annotated[Text, AfterValidator(_http_url), Field(pattern=r"^https?://")]


def _name(value: str) -> str:
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        # Hexo makes a folder of each name; file systems stop at 255 bytes.
        raise ValueError(f"longer than {MAX_NAME_BYTES} bytes of UTF-8")
    return value


Name = Annotated[Text, AfterValidator(_name)]
Whole = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]


#: The schema of a value that is one text or a list of them (:func:`_one_or_list`).
_ONE_OR_LIST = WithJsonSchema({"anyOf": [
    {"type": "string", "minLength": 1},
    {"type": "array", "items": {"type": "string", "minLength": 1}}, {"type": "null"}]})


def _one_or_list(value: object) -> object:
    """A single value where a list is expected is a list of one; null is an empty list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def _null_is_empty(value: object) -> object:
    return [] if value is None else value


class _Shorthand(_Strict):
    """A model that may be written as one string, the value of its :attr:`shorthand` key."""

    shorthand: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _widen(cls, value: object) -> object:
        return {cls.shorthand: value} if isinstance(value, str) else value

    @classmethod
    def __get_pydantic_json_schema__(cls, core: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        full = handler.resolve_ref_schema(handler(core))
        short = {"type": "string", "description": f"short for {{{cls.shorthand}: ...}}"}
        return {"anyOf": [short, {k: v for k, v in full.items() if k != "title"}],
                "title": full.get("title", cls.__name__)}


# --------------------------------------------------------------------------- filters

def _pattern(value: str) -> str:
    compile_pattern("any", value)  # its field does not change what is valid
    return value


PatternList = Annotated[list[Annotated[Text, AfterValidator(_pattern)]],
                        BeforeValidator(_one_or_list), _ONE_OR_LIST]


class Patterns(_Strict):
    """Field → a pattern or a list of them (``/regex/``, ``/regex/i`` or a plain word)."""

    any: PatternList = []
    title: PatternList = []
    link: PatternList = []
    author: PatternList = []
    category: PatternList = []
    content: PatternList = []


assert set(Patterns.model_fields) == set(FIELDS)


class GlobalFilters(_Strict):
    block: Patterns = Patterns()
    keep: Patterns = Patterns()
    max_age: Duration | None = None
    future: bool | None = None


class FeedFilters(GlobalFilters):
    inherit: bool = True


# --------------------------------------------------------------------------- per feed

class Header(_Shorthand):
    """A header value, written as it is or taken from an environment variable (a secret)."""

    value: Text | None = None
    env: Text | None = None
    shorthand = "value"

    @model_validator(mode="after")
    def _one_source(self, info: ValidationInfo) -> Header:
        if (self.value is None) == (self.env is None):
            raise ValueError("give the value, or {env: NAME}")
        environ = _context(info, ENVIRON)
        if self.env is not None and environ is not None and not environ.get(self.env):
            raise ValueError(f"the environment variable {self.env} is not set (or empty)")
        return self

    def resolve(self, environ: Mapping[str, str]) -> str:
        return self.value if self.value is not None else environ.get(self.env or "", "")


HeaderName = Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]


class FeedSettingsModel(_Strict):
    """What every route and feed may set; left out: the global default."""

    category: Name | None = None
    source: Name | None = None
    channel: Name | None = None
    enabled: bool = Field(True, description="false: not fetched, but followed: the archive "
                          "and the site keep its articles")
    items_per_feed: Whole | None = None
    every: Every | None = None
    keep_days: Count | None = Field(None, description="prune this feed's articles older than "
                                    "this many days (0: keep all)")
    user_agent: Text | None = None
    headers: dict[HeaderName, Header] = {}
    timezone: Zone | None = Field(None, description="zone of this feed's dates that have none")
    full_text: bool | Literal["rsshub"] | None = Field(
        None, description="true: fetch each new article's page and keep its main text when "
        "the feed gives only a summary; rsshub (routes only): ask RSSHub for it (mode=fulltext)")
    filters: FeedFilters | None = None


_Switch = bool | None


class Params(_Strict):
    """RSSHub's common parameters (its docs: "Parameters"), checked as RSSHub reads them."""

    filter: Text | None = None
    filter_title: Text | None = None
    filter_description: Text | None = None
    filter_author: Text | None = None
    filter_category: Text | None = None
    filterout: Text | None = None
    filterout_title: Text | None = None
    filterout_description: Text | None = None
    filterout_author: Text | None = None
    filterout_category: Text | None = None
    tgiv: Text | None = None
    image_hotlink_template: Text | None = None
    multimedia_hotlink_template: Text | None = None
    filter_time: Whole | None = None
    limit: Whole | None = None
    brief: Whole | None = None
    filter_case_sensitive: _Switch = None
    sorted: _Switch = None
    scihub: _Switch = None
    wrap_multimedia_in_iframe: _Switch = None
    mode: Literal["fulltext"] | None = None
    format: Literal["rss", "atom", "json"] | None = None  # what rsspage reads (not rss3, ums)
    opencc: Literal["s2t", "t2s"] | None = None


RSSHUB_PARAMS = tuple(Params.model_fields)


class RouteModel(FeedSettingsModel, _Shorthand):
    path: Text
    params: Params = Params()
    shorthand = "path"

    @field_validator("path")
    @classmethod
    def _a_path(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("//"):
            raise ValueError(f"a route is a path starting with '/', got {value!r}")
        return value


class FeedModel(FeedSettingsModel, _Shorthand):
    url: HttpUrl
    shorthand = "url"

    @field_validator("full_text")
    @classmethod
    def _not_rsshub(cls, value: bool | str | None) -> bool | str | None:
        if value == "rsshub":
            raise ValueError("rsshub is for routes; for a feed, true (rsspage fetches the pages)"
                             ", or add mode=fulltext to an RSSHub feed's URL")
        return value


# --------------------------------------------------------------------------- sections

class InstanceModel(_Shorthand):
    url: HttpUrl
    key: Text | None = None
    key_env: Text | None = None
    sign: Literal["code", "key"] = "code"
    shorthand = "url"

    @model_validator(mode="after")
    def _key_source(self, info: ValidationInfo) -> InstanceModel:
        if self.key is not None and self.key_env is not None:
            raise ValueError("give key or key_env, not both")
        environ = _context(info, ENVIRON)
        if self.key_env is not None and environ is not None and not environ.get(self.key_env):
            raise ValueError(f"key_env: the environment variable {self.key_env} is not set "
                             "(or empty)")
        return self


class RsshubModel(_Strict):
    instances: list[InstanceModel] = [InstanceModel(url="https://rsshub.app")]
    catalog: Annotated[list[Text], BeforeValidator(_one_or_list), _ONE_OR_LIST] | None = None

    @field_validator("catalog")
    @classmethod
    def _catalog_exists(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        folder = _context(info, FOLDER)
        for name in value or ():
            path = Path(folder or ".") / name
            if folder is not None and name != LIVE_CATALOG and not path.exists():
                raise ValueError(f"no such file or folder: {path} (or '{LIVE_CATALOG}' for "
                                 "the instances' own catalog)")
        return value


def _precompress(value: object) -> object:
    expected = "expected false, gzip, brotli or both"
    if value is True:
        raise ValueError(f"{expected} (true does not say which)")
    if value is False or value is None:
        return "false"
    if value not in ("false", "gzip", "brotli", "both"):
        raise ValueError(f"{expected}, got {value!r}")
    return value


class SiteModel(_Strict):
    title: Text = "rsspage"
    url: Text = ""
    language: Text = "zh-CN"
    timezone: Zone = "Asia/Shanghai"
    host: Annotated[Literal["github-pages", "cloudflare-pages", "netlify", "none"],
                    BeforeValidator(lambda v: v or "none")] = "none"  # null: none
    precompress: Annotated[Literal["false", "gzip", "brotli", "both"],
                           BeforeValidator(_precompress),
                           WithJsonSchema({"enum": [False, "false", "gzip", "brotli", "both"]})
                           ] = "false"
    max_articles: Count | None = None
    keep_days: Count | None = None


class LimitsModel(_Strict):
    items_per_feed: Whole = 20
    keep_days: Count = 0


class FetchModel(_Strict):
    concurrency: Whole = 16
    per_host: Whole = 4
    timeout: Annotated[float, Field(ge=0.1)] = 20.0
    retries: Count = 2
    max_bytes: Annotated[int, Field(ge=1024)] = 20 * 1024 * 1024
    user_agent: Text | None = None
    headers: dict[HeaderName, Header] = {}
    timezone: Zone | None = None


class ScheduleModel(_Strict):
    every: Every = timedelta(hours=1)
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.1
    min_interval: Duration = timedelta(minutes=1)
    max_interval: Duration = timedelta(days=1)
    max_backoff: Duration = timedelta(days=1)
    retry_gone: Duration = timedelta(days=7)

    @field_validator("max_interval")
    @classmethod
    def _not_below_min(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        low = info.data.get("min_interval")
        if low is not None and value < low:
            raise ValueError("must be at least schedule.min_interval")
        return value


def _hexo_date(value: str) -> str:
    if value in HEXO_DATE_WORDS:
        return value
    try:
        return _zone(value)
    except ValueError:
        raise ValueError("expected auto, gmt or a time zone such as Asia/Shanghai, "
                         f"got {value!r}") from None


class OutputModel(_Strict):
    state: Text | None = None
    hexo: Text | None = None
    site: Text | None = None
    page_size: Whole = 40
    hexo_date: Annotated[Text, AfterValidator(_hexo_date)] = "auto"


class StoreModel(_Strict):
    """Where the archive is kept when not in SQLite in the state folder: a PostgreSQL database
    (many fetch workers, one archive). ``url_env`` names the environment variable holding the
    URL, so that its password stays a secret; it is never printed."""

    url: Text | None = None
    url_env: Text | None = None

    @model_validator(mode="after")
    def _one_url(self, info: ValidationInfo) -> StoreModel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give url, or url_env (an environment variable holding it)")
        environ = _context(info, ENVIRON)
        if self.url_env is not None and environ is not None and not environ.get(self.url_env):
            raise ValueError(f"url_env: the environment variable {self.url_env} is not set "
                             "(or empty)")
        url = self.url if self.url is not None else (environ or {}).get(self.url_env or "")
        if url and not url.startswith(("postgresql://", "postgres://")):
            where = "url" if self.url is not None else f"url_env ({self.url_env})"
            raise ValueError(f"{where}: expected a postgresql:// URL (SQLite, the default, "
                             "needs no store section)")
        return self

    def resolve(self, environ: Mapping[str, str]) -> str:
        return self.url if self.url is not None else environ.get(self.url_env or "", "")


class ConfigModel(_Strict):
    """``rsspage.yml``."""

    model_config = ConfigDict(title="rsspage.yml")

    site: SiteModel = SiteModel()
    rsshub: RsshubModel | None = None
    routes: Annotated[list[RouteModel], BeforeValidator(_null_is_empty)] = []
    feeds: Annotated[list[FeedModel], BeforeValidator(_null_is_empty)] = []
    limits: LimitsModel = LimitsModel()
    fetch: FetchModel = FetchModel()
    output: OutputModel = OutputModel()
    store: StoreModel | None = None
    schedule: ScheduleModel = ScheduleModel()
    filters: GlobalFilters | None = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``rsspage.yml`` (``rsspage schema``)."""
    schema = ConfigModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text() -> str:
    """:func:`json_schema` as the file ``rsspage schema`` writes (UTF-8 JSON, one last LF)."""
    return json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"
