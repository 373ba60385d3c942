"""Gateway configuration: upstreams, model routes and server settings, as frozen values.

Theory of operation
-------------------
A :class:`GatewayConfig` is built once (from a TOML file, from environment variables, from
both, or in code) and passed explicitly to :class:`apibridge.asgi.App` /
:class:`apibridge.wsgi.App`; nothing in the library reads the environment by itself except the
loaders here, which take the environment as an argument (the CLI and the examples pass
``os.environ``).

* An :class:`UpstreamConfig` names one upstream: its wire ``format`` (``anthropic``, ``chat``,
  ``responses``, ``gemini``, ``backboard``, or ``scripted`` for offline demos), the
  ``base_url`` exactly as that provider's official SDK takes it (``https://api.anthropic.com``,
  ``https://api.openai.com/v1``, ``https://generativelanguage.googleapis.com``), its keys
  (rotated per request), extra headers, the largest ``max_tokens`` it accepts, timeouts,
  retries and format-specific ``options``.
* A :class:`Route` maps a model name (exact, or a glob such as ``claude-*``) to an upstream,
  optionally renaming the model. Exact names win over globs; globs are tried in order.
* :class:`ServerConfig` holds how the gateway listens and whom it serves.

Secrets (upstream keys, client keys, the admin key, extra header values) never appear in a
``repr``, so a config can be logged.

Loading precedence: :func:`load_config` starts from the TOML file (``path`` or
``APIBRIDGE_CONFIG``), then environment variables override server settings; an upstream from
``APIBRIDGE_UPSTREAM`` is used when the file defines none, and the ``BBD_*`` variables of the
earlier backboard proxy give a backboard upstream when nothing else does.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from apibridge._config_convert import first_error, say_error, spec_profile, strict_converter
from apibridge._secrets import redact_url

__all__ = [
    "DEFAULT_BASE_URLS",
    "UPSTREAM_FORMATS",
    "ConfigError",
    "GatewayConfig",
    "Retries",
    "Route",
    "ServerConfig",
    "Timeouts",
    "UpstreamConfig",
    "config_from_mapping",
    "load_config",
    "parse_upstream_spec",
    "redact_url",
]

#: formats an upstream may speak; ``scripted`` answers in-process (tests, offline demos).
UPSTREAM_FORMATS: tuple[str, ...] = (
    "anthropic",
    "chat",
    "responses",
    "gemini",
    "backboard",
    "scripted",
)

#: where the official SDKs send requests when no base URL is given.
DEFAULT_BASE_URLS: Mapping[str, str] = {
    "anthropic": "https://api.anthropic.com",
    "chat": "https://api.openai.com/v1",
    "responses": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com",
    "backboard": "https://app.backboard.io/api",
    "scripted": "echo",
}

#: a provider's own key variable, used only when the base URL is that provider's own host, so
#: a key meant for OpenAI is never sent to some other server that speaks the same format.
_PROVIDER_KEY_ENV: Mapping[str, tuple[str, str]] = {
    "anthropic": ("api.anthropic.com", "ANTHROPIC_API_KEY"),
    "chat": ("api.openai.com", "OPENAI_API_KEY"),
    "responses": ("api.openai.com", "OPENAI_API_KEY"),
    "gemini": ("generativelanguage.googleapis.com", "GEMINI_API_KEY"),
}

#: the upstream formats that may forward each client's own key (``forward_client_key``).
FORWARDING_FORMATS: frozenset[str] = frozenset({"anthropic", "chat", "responses", "gemini"})

_GLOB_CHARS = frozenset("*?[")
_T = TypeVar("_T")

#: URL schemes a ``store_url`` may use (those ``redis.asyncio.from_url`` takes).
_STORE_URL_SCHEMES: tuple[str, ...] = ("redis", "rediss", "unix")


class ConfigError(ValueError):
    """The configuration is not valid; the message names the setting."""


def _secret_repr(value: object) -> str:
    return "<hidden>" if value else repr(value)


def _header_names_repr(value: Mapping[str, str]) -> str:
    return repr(sorted(value))


def _url_repr(value: str | None) -> str:
    return repr(value if value is None else redact_url(value))


@attrs.frozen(kw_only=True)
class Timeouts:
    """How long to wait upstream, in seconds.

    Attributes:
        connect: to open a connection (and to get one from the pool).
        first_byte: from sending the request to the response headers (a non-streamed answer
            usually arrives whole, so this bounds the whole generation).
        idle: between two chunks of a response body (a stream that stalls longer fails).
        total: the whole upstream request, retries and every streamed chunk included: an
            upstream that trickles a stream forever is cut off past it (504 before the first
            event, the format's in-band error after).
    """

    connect: float = 10.0
    first_byte: float = 600.0
    idle: float = 300.0
    total: float = 3600.0

    def __attrs_post_init__(self) -> None:
        for name in ("connect", "first_byte", "idle", "total"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"timeouts.{name}: must be more than 0 seconds")


@attrs.frozen(kw_only=True)
class Retries:
    """When and how to retry a request that failed before anything reached the client.

    Attributes:
        attempts: extra attempts after the first (0 disables retries).
        backoff: the first delay in seconds; it doubles each attempt (with jitter).
        backoff_max: the largest delay.
        max_retry_after: an upstream ``Retry-After`` longer than this is not waited for: the
            error goes to the client with the hint instead.
    """

    attempts: int = 2
    backoff: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 20.0


@attrs.frozen(kw_only=True)
class UpstreamConfig:
    """One named upstream (see the module docstring)."""

    name: str
    format: str
    base_url: str = attrs.field(repr=_url_repr)
    api_keys: tuple[str, ...] = attrs.field(default=(), repr=_secret_repr)
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=_header_names_repr)
    max_output_tokens: int | None = None
    timeouts: Timeouts = Timeouts()
    retries: Retries = Retries()
    options: Mapping[str, Any] = attrs.field(factory=dict)
    forward_client_key: bool = False

    def __attrs_post_init__(self) -> None:
        if self.format not in UPSTREAM_FORMATS:
            raise ConfigError(
                f"upstreams.{self.name}.format: {self.format!r} is not one of "
                f"{', '.join(UPSTREAM_FORMATS)}"
            )
        if self.format != "scripted" and urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ConfigError(
                f"upstreams.{self.name}.base_url: {self.base_url!r} is not an http(s) URL"
            )
        if self.max_output_tokens is not None and self.max_output_tokens < 1:
            raise ConfigError(f"upstreams.{self.name}.max_output_tokens: must be at least 1")
        if self.forward_client_key and self.format not in FORWARDING_FORMATS:
            raise ConfigError(
                f"upstreams.{self.name}.forward_client_key: only for anthropic, chat, "
                f"responses and gemini upstreams ({self.format} keeps its own keys)"
            )


@attrs.frozen(kw_only=True)
class Route:
    """Requests for models matching ``pattern`` go to ``upstream``, as model ``rename``."""

    pattern: str
    upstream: str
    rename: str | None = None

    @property
    def is_glob(self) -> bool:
        """Whether ``pattern`` has glob characters (``*``, ``?``, ``[``)."""
        return any(c in _GLOB_CHARS for c in self.pattern)

    def matches(self, model: str) -> bool:
        """Whether ``model`` is routed by this route (case-sensitive)."""
        if self.is_glob:
            return fnmatch.fnmatchcase(model, self.pattern)
        return model == self.pattern


@attrs.frozen(kw_only=True)
class ServerConfig:
    """How the gateway itself listens and whom it serves.

    Attributes:
        host: bind address (loopback unless told otherwise).
        port: TCP port.
        workers: server processes (``apibridge serve`` only).
        max_body_bytes: larger request bodies get HTTP 413.
        client_keys: keys clients must present (``x-api-key`` or ``Authorization: Bearer``);
            empty means the gateway is open.
        admin_key: enables ``GET /admin/state`` for requests carrying this key.
        strict: refuse (HTTP 400) requests with fields the upstream cannot carry, instead of
            dropping them with a warning.
        store_ttl: seconds stored responses and conversation state live.
        store_max_items, store_max_bytes: bounds of the in-memory store (entries, bytes).
        store_url: a Redis URL (``redis://[:password@]host:port/db``, ``rediss://`` for TLS,
            ``unix://``): state then lives there, shared by every worker and machine that uses
            it, instead of in each process's memory. Its password never appears in a
            ``repr`` or a log line.
        store_prefix: the prefix of every key in Redis (several gateways can share one
            database under different prefixes).
        allowed_hosts: ``Host`` names served besides loopback names and the bind address
            (``.example.com``: that domain and its subdomains; ``*``: any; see
            :mod:`apibridge._gateway._edge`).
        cors_origins: browser origins (``https://app.example.com``, ``*`` for any) allowed to
            call the gateway; a request with any other ``Origin`` gets 403.
        allow_open: serve a non-loopback address without client keys (``apibridge serve``
            refuses to otherwise).
        max_in_flight: requests handled at once (streams included); past it the client's
            overload error (529 Anthropic, 503 OpenAI) with ``Retry-After``. 0: no cap.
        max_connections: open connections (``apibridge serve``; past it uvicorn answers 503).
        header_timeout: seconds a connection may take to send a request's head
            (``apibridge serve``; it is closed past it).
        body_timeout: seconds a client may take to send a request body (408 past it).
        drain_timeout: seconds open requests get after SIGTERM (:mod:`apibridge._gateway._drain`).
        metrics: serve Prometheus metrics at ``/metrics`` (the ``metrics`` extra).
        traces: OpenTelemetry spans for each request and upstream call (the ``traces`` extra).
    """

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 32 * 1024 * 1024
    client_keys: tuple[str, ...] = attrs.field(default=(), repr=_secret_repr)
    admin_key: str | None = attrs.field(default=None, repr=_secret_repr)
    strict: bool = False
    store_ttl: float = 24 * 3600.0
    store_max_items: int = 10_000
    store_max_bytes: int = 256 * 1024 * 1024
    store_url: str | None = attrs.field(default=None, repr=_url_repr)
    store_prefix: str = "apibridge:"
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    allow_open: bool = False
    max_in_flight: int = 512
    max_connections: int = 1000
    header_timeout: float = 30.0
    body_timeout: float = 120.0
    drain_timeout: float = 25.0
    metrics: bool = False
    traces: bool = False

    def __attrs_post_init__(self) -> None:
        for name, value, low, high in (
            ("port", "a TCP port (1 to 65535)", 1, 65535),
            ("workers", "a number of processes (1 or more)", 1, 1 << 16),
            ("max_body_bytes", "a size in bytes (1 or more)", 1, 1 << 62),
            ("max_in_flight", "a number of requests (0 for no cap)", 0, 1 << 30),
            ("max_connections", "a number of connections (1 or more)", 1, 1 << 30),
            ("header_timeout", "a number of seconds (more than 0)", 1e-3, 1e9),
            ("body_timeout", "a number of seconds (more than 0)", 1e-3, 1e9),
            ("drain_timeout", "a number of seconds (0 or more)", 0, 1e9),
        ):
            if not low <= getattr(self, name) <= high:
                raise ConfigError(f"server.{name}: {getattr(self, name)} is not {value}")
        if self.store_url is not None:
            try:
                scheme = urlsplit(self.store_url).scheme
            except ValueError:
                scheme = ""
            if scheme not in _STORE_URL_SCHEMES:
                raise ConfigError(
                    f"server.store_url: {redact_url(self.store_url)!r} is not a Redis URL "
                    f"(redis://, rediss:// or unix://)"
                )


@attrs.frozen(kw_only=True)
class GatewayConfig:
    """The whole gateway: upstreams by name, routes, server settings."""

    upstreams: Mapping[str, UpstreamConfig]
    routes: tuple[Route, ...] = ()
    server: ServerConfig = ServerConfig()

    def __attrs_post_init__(self) -> None:
        for route in self.routes:
            if route.upstream not in self.upstreams:
                raise ConfigError(
                    f"routes: {route.pattern!r} names upstream {route.upstream!r}, "
                    f"which is not configured"
                )
        for name, upstream in self.upstreams.items():
            if upstream.name != name:
                raise ConfigError(f"upstreams.{name}: the value is named {upstream.name!r}")

    def route(self, model: str) -> tuple[UpstreamConfig, str] | None:
        """The upstream for ``model`` and the model name to send it, or ``None``."""
        chosen: Route | None = None
        for route in self.routes:
            if not route.is_glob and route.matches(model):
                chosen = route
                break
        if chosen is None:
            chosen = next((r for r in self.routes if r.is_glob and r.matches(model)), None)
        if chosen is None:
            return None
        return self.upstreams[chosen.upstream], chosen.rename or model

    @classmethod
    def single(
        cls,
        spec: str,
        *,
        api_key: str | Sequence[str] | None = None,
        server: ServerConfig | None = None,
        **upstream: Any,
    ) -> GatewayConfig:
        """The common case in one line: every model goes, unchanged, to one upstream.

        ``spec`` is ``format=base_url`` (``"chat+vllm=…"`` names a server profile); ``api_key``
        one key or several; further keywords are :class:`UpstreamConfig` fields.
        """
        fmt, base_url = parse_upstream_spec(spec)
        if profile := spec_profile(spec):
            upstream["options"] = {**upstream.get("options", {}), "profile": profile}
        keys = (api_key,) if isinstance(api_key, str) else tuple(api_key or ())
        config = UpstreamConfig(
            name="default", format=fmt, base_url=base_url, api_keys=keys, **upstream
        )
        return cls(
            upstreams={"default": config},
            routes=(Route(pattern="*", upstream="default"),),
            server=server or ServerConfig(),
        )


def parse_upstream_spec(spec: str) -> tuple[str, str]:
    """Split ``format=base_url`` (``"chat=http://127.0.0.1:11434/v1"``) into its two halves.

    A bare format (``"anthropic"``) means that provider's official base URL; a ``+PROFILE`` is cut.
    """
    head, sep, base_url = spec.strip().partition("=")
    fmt = head.partition("+")[0].strip()
    if fmt not in UPSTREAM_FORMATS or spec_profile(spec) == "":
        raise ConfigError(
            f"upstream {spec!r}: expected FORMAT=BASE_URL (or FORMAT+PROFILE=BASE_URL) with "
            f"FORMAT one of {', '.join(UPSTREAM_FORMATS)}"
        )
    base_url = base_url.strip() if sep else DEFAULT_BASE_URLS[fmt]
    if not base_url:
        raise ConfigError(f"upstream {spec!r}: the base URL is empty")
    return fmt, base_url


# ------------------------------------------------------------------------------- loading
#
# TOML tables are structured into the frozen values above by one cattrs converter: unknown
# keys are refused, scalars are checked strictly (TOML ``true`` is no port, ``"80"`` no
# number), and every error names the setting (``server.port: expected an integer, got bool``).
# What is not a plain field (secrets given by variable name, an upstream's ``models`` list,
# a route's ``model`` key) is read first, by hand.

_SECRET_KEYS = frozenset({"client_keys", "client_keys_env", "admin_key", "admin_key_env"})
_UPSTREAM_EXTRA_KEYS = frozenset({"api_key", "api_keys", "api_key_env", "models"})


def _make_converter() -> cattrs.Converter:
    converter = strict_converter()
    converter.register_structure_hook(
        Route,
        make_dict_structure_fn(
            Route, converter, _cattrs_forbid_extra_keys=True, pattern=override(rename="model")
        ),
    )
    return converter


_CONVERTER = _make_converter()


def _structure(data: Mapping[str, Any], cls: type[_T], where: str) -> _T:
    """``data`` as a ``cls``, or a :class:`ConfigError` naming the first bad setting."""
    try:
        return _CONVERTER.structure(data, cls)
    except (cattrs.BaseValidationError, cattrs.ForbiddenExtraKeysError) as exc:
        if isinstance(exc, BaseExceptionGroup):
            own, _ = exc.split(ConfigError)  # a value's own check already names its setting
            if own is not None:
                raise first_error(own) from None
        messages = cattrs.transform_error(exc, path=where, format_exception=say_error)
        message, _, place = messages[0].rpartition(" @ ")
        if cls is Route:  # the TOML key of Route.pattern is `model`
            place = place.replace(".pattern", ".model")
        raise ConfigError(f"{place}: {message}") from None


def _split_keys(value: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in value.split(",") if k.strip())


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table")
    return value


def _keys_from(
    table: Mapping[str, Any],
    env: Mapping[str, str],
    where: str,
    *,
    env_key: str,
    one: str | None = None,
    many: str | None = None,
) -> tuple[str, ...]:
    """Secrets given inline (``one``: a string, ``many``: a list) or by variable name."""
    keys: list[str] = []
    if one is not None and one in table:
        if not isinstance(table[one], str):
            raise ConfigError(f"{where}.{one}: expected a string")
        keys.append(table[one])
    if many is not None and many in table:
        values = table[many]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"{where}.{many}: expected a list of strings")
        keys.extend(values)
    if env_key in table:
        name = table[env_key]
        if not isinstance(name, str):
            raise ConfigError(f"{where}.{env_key}: expected a string")
        if name not in env:
            raise ConfigError(f"{where}.{env_key}: environment variable {name} is not set")
        keys.extend(_split_keys(env[name]))
    return tuple(keys)


def _upstream(name: str, table: Mapping[str, Any], env: Mapping[str, str]) -> UpstreamConfig:
    where = f"upstreams.{name}"
    if "format" not in table:
        raise ConfigError(f"{where}.format: missing")
    fields = {k: v for k, v in table.items() if k not in _UPSTREAM_EXTRA_KEYS}
    fields["name"] = name
    fmt = fields["format"]
    if isinstance(fmt, str):
        fields.setdefault("base_url", DEFAULT_BASE_URLS.get(fmt, ""))
    api_keys = _keys_from(table, env, where, env_key="api_key_env", one="api_key", many="api_keys")
    fields["api_keys"] = list(api_keys)
    upstream = _structure(fields, UpstreamConfig, where)
    return upstream


def _server(table: Mapping[str, Any], env: Mapping[str, str]) -> ServerConfig:
    fields = {k: v for k, v in table.items() if k not in _SECRET_KEYS}
    keys = _keys_from(table, env, "server", env_key="client_keys_env", many="client_keys")
    if keys:
        fields["client_keys"] = list(keys)
    admin = _keys_from(table, env, "server", env_key="admin_key_env", one="admin_key")
    if admin:
        fields["admin_key"] = admin[0]
    return _structure(fields, ServerConfig, "server")


def config_from_mapping(data: Mapping[str, Any], env: Mapping[str, str]) -> GatewayConfig:
    """A config from parsed TOML (``server``, ``upstreams``, ``routes`` tables)."""
    unknown = sorted(set(data) - {"server", "upstreams", "routes"})
    if unknown:
        raise ConfigError(f"config: unknown setting {unknown[0]!r}")
    server = _server(_table(data.get("server", {}), "server"), env)
    upstream_tables = {
        name: _table(table, f"upstreams.{name}")
        for name, table in _table(data.get("upstreams", {}), "upstreams").items()
    }
    upstreams = {name: _upstream(name, table, env) for name, table in upstream_tables.items()}
    raw_routes = data.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError("routes: expected an array of tables ([[routes]])")
    routes = [
        _structure(_table(raw, f"routes[{i}]"), Route, f"routes[{i}]")
        for i, raw in enumerate(raw_routes)
    ]
    for name, table in upstream_tables.items():
        models = table.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ConfigError(f"upstreams.{name}.models: expected a list of model patterns")
        routes.extend(Route(pattern=m, upstream=name) for m in models)
    if not routes and len(upstreams) == 1:
        # one upstream and no routes: it serves every model
        routes.append(Route(pattern="*", upstream=next(iter(upstreams))))
    return GatewayConfig(upstreams=upstreams, routes=tuple(routes), server=server)


def _int_env(env: Mapping[str, str], name: str, kind: Any = int, what: str = "an integer") -> Any:
    try:
        return kind(env[name])
    except ValueError:
        raise ConfigError(f"{name}: expected {what}, got {env[name]!r}") from None


def _env_upstream(env: Mapping[str, str]) -> UpstreamConfig | None:
    """The upstream the environment describes, if any (see :func:`load_config`)."""
    if env.get("APIBRIDGE_UPSTREAM"):
        fmt, base_url = parse_upstream_spec(env["APIBRIDGE_UPSTREAM"])
        keys = _split_keys(env.get("APIBRIDGE_UPSTREAM_KEY", ""))
        if not keys and fmt in _PROVIDER_KEY_ENV:
            host, variable = _PROVIDER_KEY_ENV[fmt]
            if urlsplit(base_url).hostname == host and env.get(variable):
                keys = _split_keys(env[variable])
        max_out = None
        if env.get("APIBRIDGE_MAX_OUTPUT_TOKENS"):
            max_out = _int_env(env, "APIBRIDGE_MAX_OUTPUT_TOKENS")
        forward = env.get("APIBRIDGE_FORWARD_CLIENT_KEY", "").lower() in ("1", "true", "yes")
        return UpstreamConfig(
            name="default",
            format=fmt,
            base_url=base_url,
            api_keys=keys,
            max_output_tokens=max_out,
            forward_client_key=forward,
            options={"profile": p} if (p := spec_profile(env["APIBRIDGE_UPSTREAM"])) else {},
        )
    if env.get("BBD_API_KEY"):
        # compatibility with the earlier backboard proxy (bbd2api)
        options: dict[str, Any] = {}
        if env.get("THREAD_TTL"):
            options["thread_ttl"] = _int_env(env, "THREAD_TTL")
        return UpstreamConfig(
            name="default",
            format="backboard",
            base_url=env.get("BBD_UPSTREAM") or DEFAULT_BASE_URLS["backboard"],
            api_keys=_split_keys(env["BBD_API_KEY"]),
            options=options,
        )
    return None


def load_config(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> GatewayConfig:
    """The gateway config from a TOML file and/or environment variables.

    ``path`` (or ``APIBRIDGE_CONFIG``) names the TOML file. The environment variables are those
    of the gateway docs' table: ``APIBRIDGE_UPSTREAM`` (``format[+profile]=base_url``, used when
    the file defines no upstream) with ``APIBRIDGE_UPSTREAM_KEY`` (else ``OPENAI_API_KEY`` /
    ``ANTHROPIC_API_KEY`` / ``GEMINI_API_KEY`` for that provider's own host), the server's
    ``APIBRIDGE_*`` settings,
    and the earlier backboard proxy's ``BBD_API_KEY``, ``BBD_UPSTREAM``, ``THREAD_TTL``,
    ``HOST``, ``PORT``. ``env`` defaults to an empty mapping: pass ``os.environ`` to read the
    process's.
    """
    env = env if env is not None else {}
    path = path or env.get("APIBRIDGE_CONFIG") or None
    data: Mapping[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
    config = config_from_mapping(data, env)
    upstreams = dict(config.upstreams)
    routes = config.routes
    from_env = _env_upstream(env)
    bbd_mode = False
    if from_env is not None and not upstreams:
        upstreams = {"default": from_env}
        routes = (Route(pattern="*", upstream="default"),)
        bbd_mode = from_env.format == "backboard" and not env.get("APIBRIDGE_UPSTREAM")
    elif from_env is not None and env.get("APIBRIDGE_UPSTREAM"):
        raise ConfigError(
            "APIBRIDGE_UPSTREAM is set but the config file defines upstreams; use one or the other"
        )
    server = config.server
    changes: dict[str, Any] = {}
    if bbd_mode:
        # the earlier proxy read HOST/PORT; only honoured in its compatibility mode, since
        # some shells set HOST to the machine's name
        if env.get("HOST"):
            changes["host"] = env["HOST"]
        if env.get("PORT"):
            changes["port"] = _int_env(env, "PORT")
    if env.get("APIBRIDGE_HOST"):
        changes["host"] = env["APIBRIDGE_HOST"]
    if env.get("APIBRIDGE_PORT"):
        changes["port"] = _int_env(env, "APIBRIDGE_PORT")
    for name, kind, what in (("max_body_bytes", int, "an integer"), ("drain_timeout", float, "")):
        if env.get(f"APIBRIDGE_{name.upper()}"):
            changes[name] = _int_env(env, f"APIBRIDGE_{name.upper()}", kind, what or "a number")
    if env.get("APIBRIDGE_CLIENT_KEYS"):
        changes["client_keys"] = _split_keys(env["APIBRIDGE_CLIENT_KEYS"])
    if env.get("APIBRIDGE_ADMIN_KEY"):
        changes["admin_key"] = env["APIBRIDGE_ADMIN_KEY"]
    if env.get("APIBRIDGE_STORE_URL"):
        changes["store_url"] = env["APIBRIDGE_STORE_URL"]
    for name in ("allowed_hosts", "cors_origins"):
        if env.get(f"APIBRIDGE_{name.upper()}"):
            changes[name] = _split_keys(env[f"APIBRIDGE_{name.upper()}"])
    for name in ("allow_open", "metrics", "traces"):
        if env.get(f"APIBRIDGE_{name.upper()}"):
            changes[name] = env[f"APIBRIDGE_{name.upper()}"].lower() in ("1", "true", "yes")
    return GatewayConfig(upstreams=upstreams, routes=routes, server=attrs.evolve(server, **changes))
