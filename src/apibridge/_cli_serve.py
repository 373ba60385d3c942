"""``apibridge serve``: the gateway on an embedded uvicorn server.

Theory of operation
-------------------
The command line becomes environment-style settings laid over the process environment
(``--upstream`` is ``APIBRIDGE_UPSTREAM``, ``--upstream-key`` is ``APIBRIDGE_UPSTREAM_KEY`` …),
and :func:`apibridge.config.load_config` reads the result together with ``--config``; so the
command line, a TOML file and the environment are one mechanism with one precedence, and
worker processes (``--workers``), which uvicorn starts afresh, rebuild the same configuration
from the same environment through :func:`app_factory`.

uvicorn is an optional extra (``pip install 'apibridge[server]'``): the library itself stays
light, and without the extra this command says what to install. The server binds
``127.0.0.1`` unless told otherwise; uvicorn's own access log is off because the gateway
writes a better one (one line per request, with client format, upstream, model, status,
latency and tokens, never a key). On SIGTERM the open requests get ``--drain-timeout``
seconds, then a proper end (:mod:`apibridge._gateway._drain`).
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

from apibridge._hosts import is_loopback
from apibridge.config import ConfigError, GatewayConfig, load_config, redact_url
from apibridge.store import import_redis

__all__ = ["HELP", "add_arguments", "app_factory", "run"]

HELP = "Run the gateway: serve the Anthropic, Chat, Responses and Gemini APIs over any upstream."

log = logging.getLogger("apibridge.gateway")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument(
        "--upstream",
        metavar="FORMAT=URL",
        help="route every model, unchanged, to this upstream, e.g. "
        "chat=http://127.0.0.1:11434/v1 (FORMAT: anthropic, chat, responses, gemini, backboard; "
        "URL as that provider's official SDK takes it; FORMAT+PROFILE=URL picks a server "
        "profile, e.g. chat+vllm=http://127.0.0.1:8000/v1), or scripted=echo: an offline "
        "upstream in the process that answers 'echo: <your text>' (demos, smoke tests)",
    )
    parser.add_argument(
        "--upstream-key",
        metavar="KEY",
        help="key(s) for --upstream, comma-separated, or @FILE to read them from a file "
        "(default: $APIBRIDGE_UPSTREAM_KEY). A key given here is visible to every user of "
        "this machine in `ps`: prefer the variable or --upstream-key-file",
    )
    parser.add_argument(
        "--upstream-key-file",
        metavar="FILE",
        help="read the key(s) for --upstream from FILE (one per line or comma-separated; "
        "blank lines and # comments ignored)",
    )
    parser.add_argument(
        "--forward-client-key",
        action="store_true",
        help="send each client's own key (x-api-key, Bearer or x-goog-api-key) to --upstream "
        "instead of --upstream-key: bring your own key (default: $APIBRIDGE_FORWARD_CLIENT_KEY)",
    )
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_ranged(1, 65535), help="TCP port, 1 to 65535 (default 8080)"
    )
    parser.add_argument("--workers", type=_ranged(1, 1024), help="server processes (default 1)")
    parser.add_argument(
        "--store-url",
        metavar="URL",
        help="keep state (stored responses, backboard threads) in Redis, shared by every "
        "worker: redis://[:password@]host:port/db (default: $APIBRIDGE_STORE_URL, or "
        "in each process's memory; needs pip install 'apibridge[redis]')",
    )
    parser.add_argument(
        "--client-key",
        action="append",
        metavar="KEY",
        help="a key clients must present, or @FILE to read keys from a file (repeatable; "
        "default: $APIBRIDGE_CLIENT_KEYS or open). Visible in `ps`: prefer the variable or "
        "--client-key-file",
    )
    parser.add_argument(
        "--client-key-file",
        metavar="FILE",
        help="read the keys clients must present from FILE (one per line or comma-separated)",
    )
    parser.add_argument(
        "--allow-open",
        action="store_true",
        help="serve a non-loopback --host without client keys (refused otherwise: anyone who "
        "reaches the port would use your upstream keys; default: $APIBRIDGE_ALLOW_OPEN)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name to serve besides loopback names and the bind address (repeatable; "
        ".example.com for a domain and its subdomains, * for any; default: "
        "$APIBRIDGE_ALLOWED_HOSTS)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="a browser origin (https://app.example.com, * for any) allowed to call the "
        "gateway (repeatable; default: $APIBRIDGE_CORS_ORIGINS; none: requests carrying an "
        "Origin are refused)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="serve Prometheus metrics at /metrics (needs apibridge[metrics]; default: "
        "$APIBRIDGE_METRICS)",
    )
    parser.add_argument(
        "--traces",
        action="store_true",
        help="OpenTelemetry spans for each request and upstream call, sent by OTLP/HTTP as the "
        "OTEL_* variables say (needs apibridge[traces]; default: $APIBRIDGE_TRACES)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="on SIGTERM, let open requests run this long, then end each properly: a stream "
        "with its in-band error, others with 503 (default 25, or $APIBRIDGE_DRAIN_TIMEOUT)",
    )
    parser.add_argument(
        "--max-output-tokens", type=int, metavar="N", help="largest max_tokens for --upstream"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default info)",
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("APIBRIDGE_LOG_FORMAT", "text").strip().lower(),
        choices=["text", "json"],
        help="log lines as text or as JSON objects, one per line, the access line with its "
        "fields and request id (default text, or $APIBRIDGE_LOG_FORMAT)",
    )


def _ranged(low: int, high: int) -> Any:
    """An argparse type: an integer from ``low`` to ``high``, else a usage error saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 1e9:
        raise argparse.ArgumentTypeError(f"{value:g} is not a number of seconds (0 or more)")
    return value


def _key_file(path: str, flag: str) -> list[str]:
    """The keys in ``path``: one per line or comma-separated, blank lines and ``#`` comments
    skipped."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: {exc.strerror or exc}") from None
    keys = [
        key.strip()
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
        for key in line.split(",")
        if key.strip()
    ]
    if not keys:
        raise ConfigError(f"{flag} {path}: the file holds no key")
    return keys


def _keys(values: list[str], flag: str, file: str | None) -> list[str]:
    """Keys given on the command line: ``values`` (``@FILE`` read from a file), then ``file``."""
    keys: list[str] = []
    for value in values:
        if value.startswith("@"):
            keys.extend(_key_file(value[1:], flag))
        else:
            keys.extend(k.strip() for k in value.split(",") if k.strip())
    if file:
        keys.extend(_key_file(file, f"{flag}-file"))
    return keys


def _overlay(args: argparse.Namespace) -> dict[str, str]:
    """The command line as environment settings (a :class:`ConfigError` for a key file that
    cannot be read)."""
    env: dict[str, str] = {}
    if args.config:
        env["APIBRIDGE_CONFIG"] = args.config
    if args.upstream:
        env["APIBRIDGE_UPSTREAM"] = args.upstream
    upstream_keys = _keys(
        [args.upstream_key] if args.upstream_key else [], "--upstream-key", args.upstream_key_file
    )
    if upstream_keys:
        env["APIBRIDGE_UPSTREAM_KEY"] = ",".join(upstream_keys)
    if args.forward_client_key:
        env["APIBRIDGE_FORWARD_CLIENT_KEY"] = "1"
    if args.host:
        env["APIBRIDGE_HOST"] = args.host
    if args.port is not None:
        env["APIBRIDGE_PORT"] = str(args.port)
    client_keys = _keys(args.client_key or [], "--client-key", args.client_key_file)
    if client_keys:
        env["APIBRIDGE_CLIENT_KEYS"] = ",".join(client_keys)
    if args.allow_open:
        env["APIBRIDGE_ALLOW_OPEN"] = "1"
    if args.metrics:
        env["APIBRIDGE_METRICS"] = "1"
    if args.traces:
        env["APIBRIDGE_TRACES"] = "1"
    if args.allowed_host:
        env["APIBRIDGE_ALLOWED_HOSTS"] = ",".join(args.allowed_host)
    if args.cors_origin:
        env["APIBRIDGE_CORS_ORIGINS"] = ",".join(args.cors_origin)
    if args.max_output_tokens is not None:
        env["APIBRIDGE_MAX_OUTPUT_TOKENS"] = str(args.max_output_tokens)
    if args.store_url:
        env["APIBRIDGE_STORE_URL"] = args.store_url
    if args.drain_timeout is not None:
        env["APIBRIDGE_DRAIN_TIMEOUT"] = repr(args.drain_timeout)
    return env


def log_config(level: str, fmt: str = "text") -> dict[str, Any]:
    """Logging for uvicorn and the gateway: one stream, no uvicorn access log; plain lines,
    or JSON lines with ``fmt="json"`` (:class:`apibridge.jsonlog.JsonFormatter`)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": "apibridge.jsonlog.JsonFormatter"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json" if fmt == "json" else "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "apibridge": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


def _describe(config: GatewayConfig, workers: int) -> None:
    for upstream in config.upstreams.values():
        log.info(
            "upstream %s: %s at %s", upstream.name, upstream.format, redact_url(upstream.base_url)
        )
    for route in config.routes:
        rename = f" as {route.rename}" if route.rename else ""
        log.info("route %s -> %s%s", route.pattern, route.upstream, rename)
    server = config.server
    if not is_loopback(server.host) and not server.client_keys:
        log.warning(
            "listening on %s without client keys (--allow-open): anyone who reaches this port "
            "uses your upstream keys",
            server.host,
        )
    if workers > 1 and not server.store_url:
        log.warning(
            "%d workers without a shared store: state (previous_response_id, stored "
            "responses, backboard threads) lives in each worker's memory, so a request that "
            "lands on another worker does not find it; share it in Redis with --store-url "
            "redis://host:6379/0 (or APIBRIDGE_STORE_URL, or [server] store_url; "
            "pip install 'apibridge[redis]')",
            workers,
        )


def app_factory() -> Any:
    """The ASGI app for a worker process, configured from the environment."""
    from apibridge import _serve_bounds
    from apibridge._gateway._drain import DrainOnSignal
    from apibridge.asgi import App

    config = load_config(env=os.environ)
    _serve_bounds.configure(config.server.header_timeout)
    _configure_traces(config)
    return DrainOnSignal(App(config), config.server.drain_timeout)


def _configure_traces(config: GatewayConfig) -> None:
    """With ``server.traces``, the OpenTelemetry SDK exporting by OTLP (each process)."""
    if config.server.traces:
        from apibridge._gateway._traces import configure_sdk

        configure_sdk()


def refuse_open(config: GatewayConfig) -> str | None:
    """Why ``config`` must not be served (a non-loopback bind with no client keys and no
    ``allow_open``), or ``None``."""
    server = config.server
    if is_loopback(server.host) or server.client_keys or server.allow_open:
        return None
    return (
        f"refusing to listen on {server.host} without client keys: anyone who reaches the "
        f"port would use your upstream keys. Set client keys (--client-key-file FILE, "
        f"APIBRIDGE_CLIENT_KEYS, or [server] client_keys_env), or pass --allow-open "
        f"(APIBRIDGE_ALLOW_OPEN=1, [server] allow_open = true) to serve it open on purpose"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``apibridge serve``; the exit status."""
    if args.log_format not in ("text", "json"):  # argparse checks a flag, not its default
        print(
            f"apibridge serve: APIBRIDGE_LOG_FORMAT: {args.log_format!r} is not text or json",
            file=sys.stderr,
        )
        return 2
    try:
        import uvicorn
    except ImportError:
        print(
            "apibridge serve needs the server extra: pip install 'apibridge[server]'",
            file=sys.stderr,
        )
        return 2
    try:
        overlay = _overlay(args)
        env: Mapping[str, str] = {**os.environ, **overlay}
        config = load_config(env=env)
    except ConfigError as exc:
        print(f"apibridge serve: {exc}", file=sys.stderr)
        return 2
    if not config.upstreams:
        print(
            "apibridge serve: no upstream configured; pass --upstream FORMAT=URL or "
            "--config FILE, or set APIBRIDGE_UPSTREAM",
            file=sys.stderr,
        )
        return 2
    refusal = refuse_open(config)
    if refusal is not None:
        print(f"apibridge serve: {refusal}", file=sys.stderr)
        return 2
    workers = args.workers if args.workers is not None else config.server.workers
    if config.server.store_url:
        try:
            import_redis()  # before any worker starts: one clear message, not one per worker
        except ConfigError as exc:
            print(f"apibridge serve: {exc}", file=sys.stderr)
            return 2
    if config.server.metrics:
        try:
            import prometheus_client  # noqa: F401  (checked before any worker starts)
        except ImportError:
            print(
                "apibridge serve: --metrics needs the metrics extra: "
                "pip install 'apibridge[metrics]'",
                file=sys.stderr,
            )
            return 2
    if config.server.traces:
        try:
            _configure_traces(config)  # checked before any worker starts
        except ImportError as exc:
            print(f"apibridge serve: --traces: {exc}", file=sys.stderr)
            return 2
    from apibridge import _serve_bounds
    from apibridge._gateway._drain import BACKSTOP, DrainOnSignal

    logging.config.dictConfig(log_config(args.log_level, args.log_format))
    _describe(config, workers)
    options: dict[str, Any] = {
        "host": config.server.host,
        "port": config.server.port,
        "log_config": log_config(args.log_level, args.log_format),
        "access_log": False,
        "server_header": False,
        "lifespan": "on",
        # the bounds on connections (_serve_bounds): a slow or idle head is closed, past
        # max_connections new requests get 503, idle keep-alive connections close after 5 s
        "http": _serve_bounds.PROTOCOL,
        "limit_concurrency": config.server.max_connections,
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": _serve_bounds.MAX_HEAD_BYTES,
        # SIGTERM: the open requests drain (DrainOnSignal); this backstop cancels what is
        # left a little later (a client that stopped reading)
        "timeout_graceful_shutdown": config.server.drain_timeout + BACKSTOP,
    }
    _serve_bounds.configure(config.server.header_timeout)
    if workers > 1:
        from apibridge._gateway._options import check_config

        try:
            check_config(config)  # each worker would fail on its own, again and again
        except ConfigError as exc:
            print(f"apibridge serve: {exc}", file=sys.stderr)
            return 2
        # worker processes start afresh: hand them the settings through the environment
        os.environ.update(overlay)
        if config.server.metrics and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # the workers share their metrics through files there (prometheus_client's
            # multiprocess mode), so any worker's /metrics counts every worker's requests
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="apibridge-metrics-")
        uvicorn.run("apibridge._cli_serve:app_factory", factory=True, workers=workers, **options)
        return 0
    from apibridge.asgi import App

    try:
        app = App(config)
    except (ConfigError, ValueError) as exc:
        print(f"apibridge serve: {exc}", file=sys.stderr)
        return 2
    drained = DrainOnSignal(app, config.server.drain_timeout)
    uvicorn.Server(uvicorn.Config(drained, **options)).run()
    return 0
