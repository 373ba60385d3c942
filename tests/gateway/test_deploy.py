"""The deployment files in ``deploy/``, checked as far as this machine can.

* ``Containerfile``: parsed instruction by instruction (slim Python 3.11 base, non-root numeric
  user after the install, the extras that exist, no secret baked in, the port exposed is the
  port served); its ``CMD`` parsed by the real ``apibridge`` parser and configured from the
  image's environment (refused without client keys, served with them); its ``HEALTHCHECK``
  command run for real against a live gateway (0) and a closed port (not 0). Built with a
  container builder when one answers (skipped otherwise, saying why).
* ``apibridge.service``: ``systemd-analyze verify`` when systemd is installed, and parsed here:
  hardening, restart and stop settings, keys from ``LoadCredential=`` files; its
  ``ExecStart`` parsed by the real parser, with ``%d`` a credentials directory holding key
  files, and configured: the keys are read from the files.
* ``kubernetes.yaml``: several replicas, ``/health`` probes, the Secret and ConfigMap, the
  security context, resources, a grace period longer than the drain, Redis with the store
  URL pointing at its Service; the container's args parsed by the real parser and configured
  from the ConfigMap and a Secret.
* ``nginx.conf`` and ``Caddyfile``: the streaming settings; nginx run for real (when
  installed) on 127.0.0.1 with a self-signed certificate in front of ``apibridge serve``,
  a stream read through it with the OpenAI SDK, its events arriving as they are written.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from servers import Plan, ScriptedUpstream, free_port, serve_asgi
from test_serve import serve

from apibridge._cli_serve import _overlay, refuse_open
from apibridge._gateway._drain import BACKSTOP
from apibridge.cli import build_parser
from apibridge.config import GatewayConfig, ServerConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD", re.IGNORECASE)


def _serve_args(argv: list[str]) -> Any:
    """``argv`` (``apibridge serve …``) parsed by the real command-line parser."""
    assert Path(argv[0]).name == "apibridge", argv
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve"
    return args


def _configure(args: Any, env: dict[str, str]) -> GatewayConfig:
    """The configuration ``apibridge serve`` builds from ``args`` over ``env``."""
    return load_config(env={**env, **_overlay(args)})


# ------------------------------------------------------------------------- Containerfile


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile: comments skipped, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or (not line.strip() and not pending):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        word, _, rest = whole.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line ends the file"
    return out


def _env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions:
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


CONTAINERFILE = DEPLOY / "Containerfile"


def test_containerfile_is_slim_nonroot_and_carries_no_secret() -> None:
    instructions = _instructions(CONTAINERFILE)
    words = [word for word, _ in instructions]
    base = dict(instructions)["FROM"]
    assert base.startswith("python:3.11")
    assert base.endswith("-slim")
    # the runtime user: numeric (Kubernetes' runAsNonRoot checks it), not root, set after
    # the last RUN so that only the installation runs as root
    user = [rest for word, rest in instructions if word == "USER"][-1]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")
    # the extras installed exist, and the sources copied are the package's
    install = next(rest for word, rest in instructions if word == "RUN" and "pip install" in rest)
    extras = re.search(r"\.\[([a-z,]+)\]", install)
    assert extras is not None
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in extras.group(1).split(","):
        assert re.search(rf"^{extra} = \[", pyproject, re.MULTILINE), extra
    assert set(extras.group(1).split(",")) >= {"server", "redis", "metrics", "traces"}
    for word, rest in instructions:
        if word == "COPY":
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
    # no key, secret or password in the image: not as a variable, not as a build argument
    env = _env(instructions)
    assert [name for name in env if SECRET_NAME.search(name)] == []
    assert [rest for word, rest in instructions if word == "ARG" and SECRET_NAME.search(rest)] == []
    assert "sk-" not in CONTAINERFILE.read_text()
    # the port served is the port exposed
    exposed = [rest for word, rest in instructions if word == "EXPOSE"]
    port = str(ServerConfig().port) if "APIBRIDGE_PORT" not in env else env["APIBRIDGE_PORT"]
    assert exposed == [port]


def test_containerfile_command_is_a_valid_serve_line() -> None:
    instructions = _instructions(CONTAINERFILE)
    assert "ENTRYPOINT" not in dict(instructions)  # Kubernetes' args replace the CMD whole
    argv = json.loads(dict(instructions)["CMD"])
    args = _serve_args(argv)
    assert args.host == "0.0.0.0"
    env = _env(instructions)
    # as the image starts it: an upstream from the environment, and no client key yet,
    # which a non-loopback bind refuses
    upstream = {"APIBRIDGE_UPSTREAM": "chat=https://llm.example.com/v1"}
    config = _configure(args, {**env, **upstream})
    assert config.server.host == "0.0.0.0"
    assert str(config.server.port) == dict(instructions)["EXPOSE"]
    assert refuse_open(config) is not None
    keyed = _configure(args, {**env, **upstream, "APIBRIDGE_CLIENT_KEYS": "ck-1"})
    assert refuse_open(keyed) is None
    opened = _configure(args, {**env, **upstream, "APIBRIDGE_ALLOW_OPEN": "1"})
    assert refuse_open(opened) is None


def _healthcheck() -> list[str]:
    rest = dict(_instructions(CONTAINERFILE))["HEALTHCHECK"]
    command = json.loads(rest[rest.index("CMD") + 3 :])
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def test_containerfile_healthcheck_asks_health_for_real() -> None:
    command = _healthcheck()
    assert "/health" in " ".join(command)
    with serve("--upstream", "scripted=echo", "--client-key", "ck-health") as (root, _):
        port = root.rsplit(":", 1)[1]
        up = subprocess.run(command, env={**os.environ, "APIBRIDGE_PORT": port}, timeout=20)
    assert up.returncode == 0  # /health answers without a client key
    down = subprocess.run(
        command,
        env={**os.environ, "APIBRIDGE_PORT": str(free_port())},
        capture_output=True,
        timeout=20,
    )
    assert down.returncode != 0


def _builder() -> tuple[str | None, str]:
    """A container builder that answers here, or ``None`` and why not."""
    for tool, probe in (("docker", ["info"]), ("podman", ["info"]), ("buildah", ["version"])):
        path = shutil.which(tool)
        if path is None:
            continue
        try:
            answer = subprocess.run([path, *probe], capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            continue
        if answer.returncode == 0:
            return path, tool
    return None, "no container builder answers here (docker without a daemon, or none of " + (
        "docker, podman, buildah installed)"
    )


@pytest.mark.timeout(1200)
def test_containerfile_builds_and_runs_as_nonroot() -> None:
    builder, name = _builder()
    if builder is None:
        pytest.skip(name)
    tag = "apibridge-deploy-test:latest"
    build = [builder, "build" if name != "buildah" else "bud", "-f", str(CONTAINERFILE)]
    subprocess.run([*build, "-t", tag, str(ROOT)], check=True, timeout=1200)
    if name == "buildah":
        return  # buildah builds; running is podman's or docker's
    ran = subprocess.run(
        [builder, "run", "--rm", tag, "sh", "-c", "id -u && apibridge --version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    uid, version = ran.stdout.split("\n", 1)
    assert uid.strip() != "0"
    assert version.startswith("apibridge ")


# ------------------------------------------------------------------------- systemd

UNIT = DEPLOY / "apibridge.service"


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections → key → values (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, line
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match is not None, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def test_systemd_unit_settings() -> None:
    service = _unit(UNIT)["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one.get("DynamicUser") == "yes" or one.get("User") not in (None, "root")
    assert one["EnvironmentFile"].lstrip("-") == "/etc/apibridge/env"
    assert one["Restart"] == "on-failure"
    assert one["KillSignal"] == "SIGTERM"
    # long enough for the drain (and uvicorn's backstop after it) before SIGKILL
    assert _seconds(one["TimeoutStopSec"]) > ServerConfig().drain_timeout + BACKSTOP
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert one.get(key) == value, key
    assert "Environment" not in service  # no key written in the unit itself
    assert not SECRET_NAME.search(" ".join(service.get("Environment", [])))


def test_systemd_execstart_reads_the_keys_from_credentials(tmp_path: Path) -> None:
    service = _unit(UNIT)["Service"]
    credentials = dict(item.split(":", 1) for item in service["LoadCredential"])
    assert all(path.startswith("/etc/apibridge/") for path in credentials.values())
    (tmp_path / "client-keys").write_text("# clients\nck-team-a\nck-team-b\n")
    (tmp_path / "upstream-keys").write_text("sk-upstream-1\n")
    argv = [word.replace("%d", str(tmp_path)) for word in shlex.split(service["ExecStart"][0])]
    args = _serve_args(argv)
    used = {Path(args.client_key_file).name, Path(args.upstream_key_file).name}
    assert used == set(credentials)  # the files the command reads are the credentials loaded
    config = _configure(args, {"APIBRIDGE_UPSTREAM": "chat=https://llm.example.com/v1"})
    assert config.server.client_keys == ("ck-team-a", "ck-team-b")
    assert config.upstreams["default"].api_keys == ("sk-upstream-1",)
    assert refuse_open(config) is None
    assert config.server.host == "0.0.0.0"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this environment's
    apibridge = shutil.which("apibridge", path=str(Path(sys.executable).parent))
    if apibridge is None:
        pytest.skip("no apibridge script beside this Python (not installed in this venv)")
    unit = tmp_path / "apibridge.service"
    unit.write_text(UNIT.read_text().replace("/opt/apibridge/bin/apibridge", apibridge))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in verified.stderr.splitlines() if str(unit) in line]
    assert verified.returncode == 0, verified.stderr
    assert complaints == [], verified.stderr


# ------------------------------------------------------------------------- Kubernetes


def _objects() -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def _selects(service: dict[str, Any], deployment: dict[str, Any]) -> bool:
    """Whether ``service`` sends to the pods of ``deployment`` (which must select them)."""
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    matched = deployment["spec"]["selector"]["matchLabels"]
    assert all(labels.get(k) == v for k, v in matched.items())
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def test_kubernetes_gateway_deployment() -> None:
    objects = _objects()
    deployment = objects[("Deployment", "apibridge")]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/health"
        assert ports.get(get["port"], get["port"]) in ports.values()
    sources = container["envFrom"]
    config_map = objects[("ConfigMap", sources[0]["configMapRef"]["name"])]["data"]
    secret_names = [s["secretRef"]["name"] for s in sources if "secretRef" in s]
    assert secret_names  # the keys come from a Secret …
    assert ("Secret", secret_names[0]) not in objects  # … created apart, not in this file
    assert [name for name in config_map if SECRET_NAME.search(name)] == []
    # the grace period covers the preStop pause, the drain and the backstop after it
    drain = float(config_map.get("APIBRIDGE_DRAIN_TIMEOUT", ServerConfig().drain_timeout))
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + drain + BACKSTOP
    # the args: a serve command line, configured from the ConfigMap and the Secret
    args = _serve_args(container.get("command", []) + container["args"])
    secret = {"APIBRIDGE_UPSTREAM_KEY": "sk-up", "APIBRIDGE_CLIENT_KEYS": "ck-a,ck-b"}
    config = _configure(args, {**config_map, **secret})
    assert config.server.port in ports.values()
    assert config.server.client_keys == ("ck-a", "ck-b")
    assert config.server.drain_timeout == drain
    assert refuse_open(config) is None
    assert refuse_open(_configure(args, config_map)) is not None  # no Secret: refused
    service = objects[("Service", "apibridge")]
    assert _selects(service, deployment)


def test_kubernetes_replicas_share_one_redis() -> None:
    objects = _objects()
    deployment = objects[("Deployment", "apibridge")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    config_map = objects[("ConfigMap", container["envFrom"][0]["configMapRef"]["name"])]["data"]
    store = httpx.URL(config_map["APIBRIDGE_STORE_URL"])
    assert store.scheme == "redis"
    service = objects[("Service", store.host)]
    assert store.port in [p["port"] for p in service["spec"]["ports"]]
    redis = [d for (kind, _), d in objects.items() if kind == "Deployment" and _selects(service, d)]
    assert len(redis) == 1
    assert redis[0]["spec"]["replicas"] == 1
    (redis_container,) = redis[0]["spec"]["template"]["spec"]["containers"]
    assert redis_container["image"].startswith("redis:")
    # every key apibridge writes expires: a bounded Redis evicts with volatile-lru
    assert "volatile-lru" in redis_container["args"]


# ------------------------------------------------------------------------- TLS


NGINX = DEPLOY / "nginx.conf"


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.endswith(";"):
            name, _, value = line[:-1].partition(" ")
            out.setdefault(name, []).append(value.strip())
    return out


def test_nginx_config_streams() -> None:
    found = _directives(NGINX.read_text())
    assert found["proxy_buffering"] == ["off"]
    assert found["proxy_http_version"] == ["1.1"]
    assert found["proxy_set_header"].count('Connection ""') == 1
    assert int(found["proxy_read_timeout"][0].rstrip("s")) >= 300
    assert found["server"] == [f"127.0.0.1:{ServerConfig().port}"]
    assert any("ssl" in listen.split() for listen in found["listen"])


def test_caddyfile_streams() -> None:
    text = (DEPLOY / "Caddyfile").read_text()
    assert re.search(rf"reverse_proxy 127\.0\.0\.1:{ServerConfig().port}\b", text)
    assert re.search(r"^\s*flush_interval -1$", text, re.MULTILINE)
    assert re.search(r"^\s*read_timeout \d+m$", text, re.MULTILINE)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _nginx_in_front(directory: Path, gateway_port: str, port: int) -> Path:
    """deploy/nginx.conf with this test's ports and certificate, inside a main config that
    runs as this user in ``directory``."""
    cert, key = _self_signed(directory)
    site = NGINX.read_text()
    replacements = {
        f"server 127.0.0.1:{ServerConfig().port};": f"server 127.0.0.1:{gateway_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{port} ssl http2;",
        "/etc/ssl/certs/llm.example.com.pem": str(cert),
        "/etc/ssl/private/llm.example.com.key": str(key),
    }
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    (directory / "apibridge.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = directory / "nginx.conf"
    main.write_text(
        f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {directory / 'apibridge.conf'};\n}}\n"
    )
    return main


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed (CI installs it with apt: .ci/run)",
)
def test_stream_through_nginx_with_tls(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    upstream = ScriptedUpstream("chat")
    pause = 1.5
    upstream.plans.append(Plan(kind="slow", events=2, delay=pause))
    with (
        serve_asgi(upstream) as upstream_root,
        serve("--upstream", f"chat={upstream_root}/v1", "--client-key", "ck-tls") as (root, _),
    ):
        port = free_port()
        main = _nginx_in_front(tmp_path, root.rsplit(":", 1)[1], port)
        checked = subprocess.run(
            [nginx, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(
            [nginx, "-c", str(main), "-p", str(tmp_path)], stderr=subprocess.PIPE, text=True
        )
        try:
            verify = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
            deadline = time.monotonic() + 10
            while True:
                try:
                    health = httpx.get(f"https://localhost:{port}/health", verify=verify)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.communicate()[1]
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.1)
            assert health.status_code == 200
            client = openai.OpenAI(
                base_url=f"https://localhost:{port}/v1",
                api_key="ck-tls",
                http_client=httpx.Client(verify=verify),
                max_retries=0,
            )
            arrivals: list[tuple[float, Any]] = []
            with client.chat.completions.create(
                model="any-model", messages=[{"role": "user", "content": "hi"}], stream=True
            ) as stream:
                for chunk in stream:
                    arrivals.append((time.monotonic(), chunk))
        finally:
            process.terminate()
            process.wait(10)
    text = "".join(c.choices[0].delta.content or "" for _, c in arrivals if c.choices)
    assert text == "Hello from chat! You said: hi"
    assert arrivals[-1][1].choices[0].finish_reason == "stop"
    # the events before the upstream's pause came through before it ended: not buffered
    assert arrivals[-1][0] - arrivals[0][0] >= pause * 0.8
