"""Run the pinned real clients (Claude Code, Codex CLI, Gemini CLI) offline against a loopback URL.

Theory of operation
-------------------
The clients are installed from ``package.json`` / ``package-lock.json`` beside this file
(``npm ci`` puts them in ``node_modules/.bin``). Every run gets a throw-away home directory
(``HOME``, ``CLAUDE_CONFIG_DIR`` or ``CODEX_HOME`` inside it; Gemini CLI's
``~/.gemini/settings.json``) so no user configuration, login
or session history leaks in or out, a minimal environment (``PATH`` only, plus what the run
needs) so no real API key or proxy setting is inherited, ``stdin`` closed, and a hard timeout
(the process group is killed when it expires). Retries are switched off so an error scenario
ends quickly: ``CLAUDE_CODE_MAX_RETRIES`` for Claude Code, ``request_max_retries`` /
``stream_max_retries`` in Codex's ``config.toml``, ``general.maxAttempts`` in Gemini CLI's
settings.

How each client runs offline is described in ``docs/clients.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

HERE = Path(__file__).parent
NODE_BIN = HERE / "node_modules" / ".bin"

# The npm package behind each command, to read its pinned version.
_PACKAGES: dict[str, str] = {
    "claude": "@anthropic-ai/claude-code",
    "codex": "@openai/codex",
    "gemini": "@google/gemini-cli",
}

# Environment every client run gets; nothing else is inherited from the test process.
_BASE_ENV: dict[str, str] = {
    "LANG": "C.UTF-8",
    "NO_COLOR": "1",
    "TERM": "dumb",
}

# Claude Code: no telemetry, update checks or other traffic besides the model calls, and no
# retries, so a failing scenario fails in seconds.
_CLAUDE_ENV: dict[str, str] = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "CLAUDE_CODE_MAX_RETRIES": "0",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}

# Fixture files stay reviewable: past this size long tool descriptions are cut.
FIXTURE_LIMIT = 150_000


def have(client: str) -> bool:
    """Whether ``client`` (``claude`` or ``codex``) is installed in ``node_modules``."""
    return (NODE_BIN / client).exists()


def version(client: str) -> str:
    """``<npm package> <version>`` of the installed ``client``."""
    package = _PACKAGES[client]
    manifest = HERE / "node_modules" / package / "package.json"
    return f"{package} {json.loads(manifest.read_text())['version']}"


@attrs.frozen(kw_only=True)
class ClientRun:
    """What one client run left behind."""

    returncode: int
    """The exit status (``-9`` when the timeout killed it)."""
    stdout: str
    """Everything printed on standard output."""
    stderr: str
    """Everything printed on standard error."""
    workdir: Path
    """The directory the client ran in (gone after the run unless the caller chose it)."""
    timed_out: bool = False
    """True when the run was killed by its timeout."""

    def json(self) -> Any:
        """Standard output parsed as JSON (Claude Code's ``--output-format json``)."""
        return json.loads(self.stdout)

    def summary(self) -> str:
        """A short text for assertion messages: status and the ends of both outputs."""
        return (
            f"exit {self.returncode}{' (timed out)' if self.timed_out else ''}\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


def _run(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float) -> ClientRun:
    # A new session so the whole process tree (shells the agent started) dies on timeout.
    process = subprocess.Popen(
        argv,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        timed_out = True
    return ClientRun(
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
        workdir=cwd,
        timed_out=timed_out,
    )


def _home(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"apibridge-{prefix}-"))


def run_claude(
    base_url: str,
    prompt: str,
    *,
    workdir: Path | None = None,
    model: str | None = None,
    allowed_tools: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> ClientRun:
    """Run ``claude -p prompt --output-format json`` against ``base_url``.

    ``base_url`` is the server root (Claude Code appends ``/v1/messages``). Tools in
    ``allowed_tools`` (``"Bash(echo:*)"``, ``"Read"``) run without a permission prompt; as
    root Claude Code refuses ``--dangerously-skip-permissions``, so this is the only way.
    """
    home = _home("claude")
    cwd = workdir or home / "work"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {
        **_BASE_ENV,
        **_CLAUDE_ENV,
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "test-key",
        **(extra_env or {}),
    }
    argv = [str(NODE_BIN / "claude"), "-p", prompt, "--output-format", "json"]
    if model:
        argv += ["--model", model]
    if allowed_tools:
        argv += ["--allowedTools", *allowed_tools]
    argv += list(extra_args)
    try:
        return _run(argv, env=env, cwd=cwd, timeout=timeout)
    finally:
        # The throw-away home goes, with ``cwd`` when it is inside it: callers that look at
        # the agent's files pass their own ``workdir``.
        shutil.rmtree(home, ignore_errors=True)


def codex_config(base_url: str, model: str, extra: str = "") -> str:
    """The ``config.toml`` that points Codex at ``base_url`` (which ends in ``/v1``).

    ``extra`` is appended as is (more TOML tables, such as ``[mcp_servers.<name>]``).
    """
    return (
        f'model = "{model}"\n'
        'model_provider = "bridge"\n'
        "\n"
        "[model_providers.bridge]\n"
        'name = "apibridge"\n'
        f'base_url = "{base_url}"\n'
        'wire_api = "responses"\n'
        'env_key = "APIBRIDGE_TEST_KEY"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
        "\n"
        "[features]\n"
        "plugins = false\n" + (f"\n{extra}" if extra else "")
    )


def run_codex(
    base_url: str,
    prompt: str,
    *,
    workdir: Path | None = None,
    model: str = "gpt-5.5",
    sandbox: str | None = None,
    extra_args: Sequence[str] = (),
    extra_config: str = "",
    timeout: float = 60,
) -> ClientRun:
    """Run ``codex exec --skip-git-repo-check --ephemeral prompt`` against ``base_url``.

    ``base_url`` must end in ``/v1`` (Codex appends ``/responses``). ``sandbox`` is passed
    to ``--sandbox`` (``workspace-write`` lets the agent create files in ``workdir``).
    ``extra_config`` is appended to ``config.toml`` (see :func:`codex_config`).
    """
    home = _home("codex")
    codex_home = home / "codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(codex_config(base_url, model, extra_config))
    cwd = workdir or home / "work"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {
        **_BASE_ENV,
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "APIBRIDGE_TEST_KEY": "test-key",
    }
    argv = [str(NODE_BIN / "codex"), "exec", "--skip-git-repo-check", "--ephemeral"]
    if sandbox:
        argv += ["--sandbox", sandbox]
    argv += [*extra_args, prompt]
    try:
        return _run(argv, env=env, cwd=cwd, timeout=timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)


#: Gemini CLI's ``~/.gemini/settings.json`` for an offline run: API-key auth, no folder
#: trust prompt, no update checks, telemetry or IDE, one attempt per request.
GEMINI_SETTINGS: dict[str, Any] = {
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "general": {
        "enableAutoUpdate": False,
        "enableAutoUpdateNotification": False,
        "maxAttempts": 1,
    },
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "ide": {"enabled": False},
    "model": {"name": "gemini-2.5-flash"},
}


def run_gemini(
    base_url: str,
    prompt: str,
    *,
    workdir: Path | None = None,
    model: str = "gemini-2.5-flash",
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> ClientRun:
    """Run ``gemini -m model -p prompt -o json`` against ``base_url`` (the server root:
    Gemini CLI appends ``/v1beta/models/...``)."""
    home = _home("gemini")
    (home / ".gemini").mkdir()
    (home / ".gemini" / "settings.json").write_text(json.dumps(GEMINI_SETTINGS, indent=2))
    cwd = workdir or home / "work"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {
        **_BASE_ENV,
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GEMINI_API_KEY": "test-key",
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "GEMINI_TELEMETRY_ENABLED": "false",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "NO_BROWSER": "true",
        "CI": "true",
        **(extra_env or {}),
    }
    argv = [str(NODE_BIN / "gemini"), "-m", model, "-p", prompt, "-o", "json", *extra_args]
    try:
        return _run(argv, env=env, cwd=cwd, timeout=timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def shorten_for_fixture(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` unchanged when small enough for a fixture; else long tool descriptions cut.

    Only descriptions are cut (to their first paragraph): names, schemas, messages, system
    text and every parameter stay as the client sent them.
    """
    if len(json.dumps(body)) <= FIXTURE_LIMIT:
        return body
    tools = []
    for tool in body.get("tools") or []:
        description = tool.get("description")
        if isinstance(description, str) and len(description) > 400:
            tool = {**tool, "description": description.split("\n\n", 1)[0]}
        tools.append(tool)
    return {**body, "tools": tools}


def requires(client: str) -> pytest.MarkDecorator:
    """A pytest mark skipping a test when ``client`` is not installed, with the reason."""
    return pytest.mark.skipif(
        not have(client),
        reason=f"{_PACKAGES[client]} is not installed: run `cd tests/acceptance && npm ci`",
    )
