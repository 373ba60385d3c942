"""The pinned client versions agree everywhere they are written down.

``package.json`` pins Claude Code, Codex CLI and Gemini CLI; the lock file, the installed
packages (when ``npm ci`` has run), the captured first-request fixtures, the README and
``docs/clients.md`` must name the same versions, so a refresh of the pins cannot leave one of
them behind. The same holds for the ``google-genai`` pin in ``pyproject.toml``: the installed
SDK and its recorded requests name it.
"""

from __future__ import annotations

import json
import re
from importlib import metadata

import pytest

from .clients import HERE, have, version

pytestmark = pytest.mark.acceptance

ROOT = HERE.parents[1]
PINS: dict[str, str] = json.loads((HERE / "package.json").read_text())["dependencies"]
COMMANDS = {
    "@anthropic-ai/claude-code": "claude",
    "@openai/codex": "codex",
    "@google/gemini-cli": "gemini",
}
FIRST_REQUESTS = {
    "@anthropic-ai/claude-code": "anthropic/claude_code_request.json",
    "@openai/codex": "responses/codex_request.json",
    "@google/gemini-cli": "gemini/request_gemini_cli_25_first.json",
}


@pytest.mark.parametrize("package", sorted(PINS))
def test_pins_are_exact_and_locked(package: str) -> None:
    pinned = PINS[package]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"{package}: pin an exact version"
    lock = json.loads((HERE / "package-lock.json").read_text())
    assert lock["packages"][f"node_modules/{package}"]["version"] == pinned
    assert lock["packages"][""]["dependencies"][package] == pinned


@pytest.mark.parametrize("package", sorted(PINS))
def test_installed_client_is_the_pinned_one(package: str) -> None:
    command = COMMANDS[package]
    if not have(command):
        pytest.skip(f"{package} is not installed: run `cd tests/acceptance && npm ci`")
    assert version(command) == f"{package} {PINS[package]}"


@pytest.mark.parametrize("package", sorted(PINS))
def test_docs_and_fixture_name_the_pinned_version(package: str) -> None:
    pinned = PINS[package]
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"\| [^|\n]*`{re.escape(package)}`\) \| {re.escape(pinned)} \|", readme)
    clients_md = (ROOT / "docs" / "clients.md").read_text()
    assert re.search(rf"\| npm `{re.escape(package)}` \| {re.escape(pinned)} \|", clients_md)
    fixture = json.loads((ROOT / "tests" / "fixtures" / FIRST_REQUESTS[package]).read_text())
    assert f"{package} {pinned}" in fixture["description"]


def test_google_genai_pin_matches_the_sdk_and_its_recordings() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    (pinned,) = re.findall(r'"google-genai==([0-9.]+)"', pyproject)
    assert metadata.version("google-genai") == pinned
    recordings = sorted((ROOT / "tests" / "fixtures" / "gemini").glob("request_genai_sdk_*.json"))
    assert recordings
    for path in recordings:
        assert f"google-genai {pinned} " in json.loads(path.read_text())["description"], path.name
