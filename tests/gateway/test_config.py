"""Configuration: TOML, environment variables, routing, the backboard-proxy compatibility."""

from __future__ import annotations

from pathlib import Path

import pytest

from apibridge.config import (
    ConfigError,
    GatewayConfig,
    Route,
    Timeouts,
    UpstreamConfig,
    load_config,
    parse_upstream_spec,
)

TOML = """
[server]
host = "127.0.0.1"
port = 9001
max_body_bytes = 1000
client_keys = ["k1", "k2"]
admin_key_env = "ADMIN"

[upstreams.local]
format = "chat"
base_url = "http://127.0.0.1:11434/v1"
api_key_env = "LOCAL_KEYS"
max_output_tokens = 8192
headers = { "x-team" = "secret-team-token" }
timeouts = { connect = 1, first_byte = 30, idle = 5 }
retries = { attempts = 0 }
options = { late_system = "keep" }

[upstreams.claude]
format = "anthropic"
api_key = "sk-ant-secret"
models = ["claude-*"]

[[routes]]
model = "fast"
upstream = "local"
rename = "qwen3:8b"

[[routes]]
model = "gpt-*"
upstream = "local"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "apibridge.toml"
    path.write_text(text)
    return path


def test_toml_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TOML), env={"ADMIN": "adm", "LOCAL_KEYS": "a, b"})
    assert config.server.port == 9001
    assert config.server.client_keys == ("k1", "k2")
    assert config.server.admin_key == "adm"
    local = config.upstreams["local"]
    assert local.api_keys == ("a", "b")
    assert local.max_output_tokens == 8192
    assert local.timeouts.idle == 5
    assert local.retries.attempts == 0
    assert local.options == {"late_system": "keep"}
    claude = config.upstreams["claude"]
    assert claude.base_url == "https://api.anthropic.com"
    routed = config.route("fast")
    assert routed is not None
    assert routed[0].name == "local"
    assert routed[1] == "qwen3:8b"
    routed = config.route("claude-sonnet-4")
    assert routed is not None
    assert routed[0].name == "claude"
    assert routed[1] == "claude-sonnet-4"
    assert config.route("gpt-4o") is not None
    assert config.route("llama") is None


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TOML), env={"ADMIN": "adm-zz9", "LOCAL_KEYS": "sk-abc"})
    text = repr(config)
    for secret in ("sk-abc", "sk-ant-secret", "k1", "adm-zz9", "secret-team-token"):
        assert secret not in text
    assert "x-team" in text  # header names are fine to show


def test_exact_routes_win_over_globs() -> None:
    up = {
        "a": UpstreamConfig(name="a", format="chat", base_url="http://a/v1"),
        "b": UpstreamConfig(name="b", format="chat", base_url="http://b/v1"),
    }
    config = GatewayConfig(
        upstreams=up,
        routes=(
            Route(pattern="*", upstream="a"),
            Route(pattern="gpt-?o", upstream="a", rename="x"),
            Route(pattern="gpt-4o", upstream="b"),
        ),
    )
    assert config.route("gpt-4o") == (up["b"], "gpt-4o")
    assert config.route("gpt-5o") == (up["a"], "gpt-5o")  # globs in order: "*" first


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[upstreams.x]\nformat = 'grpc'\nbase_url = 'http://h'", "upstreams.x.format"),
        ("[upstreams.x]\nformat = 'chat'\nbase_url = 'ftp://h'", "upstreams.x.base_url"),
        ("[upstreams.x]\nbase_url = 'http://h'", "upstreams.x.format"),
        ("[upstreams.x]\nformat = 'chat'\ncolour = 'red'", "upstreams.x"),
        ("[server]\nport = true", "server.port"),
        ("[server]\nport = 'eighty'", "server.port"),
        ("[server]\nport = 65536", "server.port"),
        ("[server]\nport = -1", "server.port"),
        ("[server]\nworkers = 0", "server.workers"),
        ("[server]\nmax_body_bytes = 0", "server.max_body_bytes"),
        ("[[routes]]\nmodel = 'm'\nupstream = 'nowhere'", "routes"),
        ("[[routes]]\nupstream = 'x'", "routes[0].model"),
        ("[upstreams.x]\nformat = 'chat'\ntimeouts = { idle = 'long' }", "timeouts.idle"),
        ("[upstreams.x]\nformat = 'chat'\napi_key_env = 'MISSING'", "api_key_env"),
        ("this is = = not toml", "config file"),
    ],
)
def test_errors_name_the_setting(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text), env={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_config(tmp_path / "nope.toml")


def test_environment_one_liner() -> None:
    env = {
        "APIBRIDGE_UPSTREAM": "chat=http://127.0.0.1:11434/v1",
        "APIBRIDGE_UPSTREAM_KEY": "k1,k2",
        "APIBRIDGE_PORT": "7000",
        "APIBRIDGE_CLIENT_KEYS": "c1",
        "APIBRIDGE_MAX_OUTPUT_TOKENS": "4096",
        "HOST": "0.0.0.0",  # not honoured outside the backboard compatibility mode
    }
    config = load_config(env=env)
    upstream = config.upstreams["default"]
    assert (upstream.format, upstream.base_url) == ("chat", "http://127.0.0.1:11434/v1")
    assert upstream.api_keys == ("k1", "k2")
    assert upstream.max_output_tokens == 4096
    assert config.server.port == 7000
    assert config.server.host == "127.0.0.1"
    assert config.server.client_keys == ("c1",)
    assert config.route("anything") == (upstream, "anything")


def test_provider_key_only_for_the_providers_own_host() -> None:
    env = {"APIBRIDGE_UPSTREAM": "chat", "OPENAI_API_KEY": "sk-openai"}
    assert load_config(env=env).upstreams["default"].api_keys == ("sk-openai",)
    env["APIBRIDGE_UPSTREAM"] = "chat=http://elsewhere.example/v1"
    assert load_config(env=env).upstreams["default"].api_keys == ()


def test_env_upstream_and_file_upstreams_conflict(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="APIBRIDGE_UPSTREAM"):
        load_config(
            write(tmp_path, TOML),
            env={"APIBRIDGE_UPSTREAM": "chat", "ADMIN": "a", "LOCAL_KEYS": "k"},
        )


def test_backboard_proxy_compatibility() -> None:
    env = {"BBD_API_KEY": "bk1, bk2", "THREAD_TTL": "600", "HOST": "0.0.0.0", "PORT": "5000"}
    config = load_config(env=env)
    upstream = config.upstreams["default"]
    assert upstream.format == "backboard"
    assert upstream.api_keys == ("bk1", "bk2")
    assert upstream.base_url == "https://app.backboard.io/api"
    assert upstream.options["thread_ttl"] == 600
    assert (config.server.host, config.server.port) == ("0.0.0.0", 5000)
    env["BBD_UPSTREAM"] = "http://127.0.0.1:9/api"
    assert load_config(env=env).upstreams["default"].base_url == "http://127.0.0.1:9/api"


def test_single_and_spec() -> None:
    config = GatewayConfig.single("anthropic", api_key="k", max_output_tokens=100)
    upstream = config.upstreams["default"]
    assert upstream.base_url == "https://api.anthropic.com"
    assert upstream.max_output_tokens == 100
    assert parse_upstream_spec(" responses = http://h/v1 ") == ("responses", "http://h/v1")
    with pytest.raises(ConfigError, match="FORMAT=BASE_URL"):
        parse_upstream_spec("http://h/v1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = true", "server.port: expected an integer, got a boolean"),
        ("[server]\nport = '8080'", "server.port: expected an integer, got str"),
        ("[server]\nstore_ttl = 'a day'", "server.store_ttl: expected a number, got str"),
        ("[server]\nstrict = 1", "server.strict: expected true or false, got int"),
        ("[server]\ncolour = 'red'", "server: unknown setting 'colour'"),
        (
            "[upstreams.x]\nformat = 'chat'\nretries = { attempts = 1.5 }",
            "upstreams.x.retries.attempts: expected an integer, got float",
        ),
        (
            "[upstreams.x]\nformat = 'chat'\nheaders = { x-team = 3 }",
            "upstreams.x.headers: values must be strings",
        ),
        (
            "[upstreams.x]\nformat = 'chat'\nmax_output_tokens = 0",
            "upstreams.x.max_output_tokens: must be at least 1",
        ),
        ("[[routes]]\nmodel = 3\nupstream = 'x'", "routes[0].model: expected a string, got int"),
    ],
)
def test_toml_values_are_checked_strictly_and_named(
    tmp_path: Path, text: str, message: str
) -> None:
    """The TOML tables are structured into the config values (one cattrs converter): a value
    of the wrong type is never coerced (``true`` is no port, ``'8080'`` no integer), and the
    error says which setting and why, once."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert str(caught.value) == message


def test_numbers_keep_their_toml_type(tmp_path: Path) -> None:
    text = "[upstreams.x]\nformat = 'chat'\ntimeouts = { idle = 5, connect = 2.5 }"
    config = load_config(write(tmp_path, text), env={})
    assert config.upstreams["x"].timeouts == Timeouts(connect=2.5, idle=5)


def test_an_out_of_range_port_in_the_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"server\.port: 99999 is not a TCP port"):
        load_config(env={"APIBRIDGE_UPSTREAM": "scripted=echo", "APIBRIDGE_PORT": "99999"})
