"""The vLLM server profile against the vLLM-like upstream's strictness (issue 11): every
captured client request and variant that apibridge's generic Chat encoding sends and vLLM
refuses (``test_vllm_like.KNOWN_REFUSED``) is taken once the ``vllm`` profile fits it, but for
what no profile can fix (a file part, a tool_choice with no tools, a client's own custom
tool)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from apibridge._exchange import Exchange
from apibridge.codecs._profiles import CHAT_PROFILES

from .test_vllm_like import KNOWN_REFUSED, _client_requests
from .vllm_like import refusal

pytestmark = pytest.mark.acceptance

VLLM = CHAT_PROFILES["vllm"]

#: refused with the profile too: not the profile's to fix (other items of issue 11 or none).
STILL_REFUSED: dict[str, str] = {
    "anthropic/request_images_documents.json": "content part type: 'file'",
    "responses/request_images_files.json": "content part type: 'file'",
    "chat/request_vision_files_audio.json": "content part type: 'file'",
    "chat/request_custom_tools_allowed.json": "tools.0",
    "anthropic tool_choice without tools": "`tools` must be set",
}


def _with_profile(fmt: str, body: dict[str, Any]) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exchange = Exchange.from_client(
            body,
            client=fmt,
            upstream="chat",
            profile=VLLM,
            reasoning_efforts=VLLM.reasoning_efforts,
            reasoning_field=VLLM.reasoning_field,
        )
        return exchange.upstream_request()


def test_the_vllm_profile_fixes_what_generic_chat_gets_refused() -> None:
    refused: dict[str, str] = {}
    for name, (fmt, body) in _client_requests().items():
        why = refusal(_with_profile(fmt, body))
        if why is not None:
            refused[name] = why.message
    unexpected = {
        name: message
        for name, message in refused.items()
        if name not in STILL_REFUSED or STILL_REFUSED[name] not in message
    }
    assert unexpected == {}
    fixed = set(KNOWN_REFUSED) - set(refused)
    assert "responses tool_choice allowed_tools" in fixed
