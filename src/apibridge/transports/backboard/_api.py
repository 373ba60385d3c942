"""The backboard REST calls the transport makes, with retries and error translation.

Theory of operation
===================

:class:`BackboardAPI` knows backboard's paths and its ``X-API-Key`` auth; each call names the
key it uses, because an assistant or a thread is visible only to the account that created it.
It returns parsed JSON (or, for streams, an open ``httpx.Response`` whose status is 2xx) and
raises :class:`~apibridge.errors.UpstreamError` for everything else. httpx exceptions are
translated here and nowhere else.

Retries follow BACKBOARD.md: HTTP 502/503/504, connection failures and error texts of the
retryable list ("upstream idle timeout exceeded" …) are retried with backoff
``min(backoff · 2^attempt, backoff_max)``; the never-retry list (rate limit, auth, quota …)
wins over it. A retry happens only before the response was accepted, so nothing has reached
the client yet. Upstream keys are scrubbed from every error message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import attrs
import httpx

from apibridge import _json
from apibridge.codecs import backboard as codec
from apibridge.errors import ApiError, InvalidPayload, UpstreamError
from apibridge.transports._closing import aclose_shielded
from apibridge.transports._protocol import note_retry
from apibridge.transports.backboard._settings import BackboardSettings

__all__ = ["KEY_FAULT_KINDS", "BackboardAPI", "form_fields", "parse_retry_after"]

#: Error kinds that say something about the key (its account), not the request.
KEY_FAULT_KINDS: frozenset[str] = frozenset(
    {"authentication", "permission", "billing", "rate_limit"}
)

_MAX_ERROR_BODY = 64 * 1024


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds, when it is a number (backboard sends seconds)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


def form_fields(body: Mapping[str, Any]) -> dict[str, str]:
    """A message request's fields as multipart form strings (objects as JSON text)."""
    fields: dict[str, str] = {}
    for key, value in body.items():
        if key == "files" or value is None:
            continue
        if isinstance(value, bool):
            fields[key] = "true" if value else "false"
        elif isinstance(value, str):
            fields[key] = value
        else:
            fields[key] = _json.dumps_str(value)
    return fields


def _files(body: Mapping[str, Any]) -> list[tuple[str, tuple[str, bytes, str]]]:
    out = []
    for i, item in enumerate(body.get("files") or ()):
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidPayload(
                f"files[{i}] ({item['filename']}): the file data is not valid base64"
            ) from None
        out.append(("files", (item["filename"], data, item["content_type"])))
    return out


@attrs.define
class BackboardAPI:
    """backboard's REST surface as the transport uses it (see the module docstring)."""

    settings: BackboardSettings
    client: httpx.AsyncClient

    # -- plumbing

    def _headers(self, key: str, *, stream: bool = False) -> dict[str, str]:
        headers = {
            "X-API-Key": key,
            "accept": "text/event-stream" if stream else "application/json",
        }
        headers.update(self.settings.headers)
        return headers

    def _timeout(self, *, stream: bool) -> httpx.Timeout:
        s = self.settings
        # Streams: reads are bounded by the transport's own idle and keep-alive timers.
        read = None if stream else s.first_byte_timeout
        return httpx.Timeout(
            connect=s.connect_timeout, read=read, write=s.first_byte_timeout, pool=s.connect_timeout
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        note_retry()  # every retry waits this long first: the one place that counts them
        if retry_after is not None:
            return min(retry_after, self.settings.backoff_max)
        return float(min(self.settings.backoff * 2**attempt, self.settings.backoff_max))

    def redact(self, text: str) -> str:
        """``text`` without any of the upstream's keys in it."""
        for key in self.settings.api_keys:
            text = text.replace(key, "[redacted]")
        return text

    def _unreachable(self, exc: BaseException) -> ApiError:
        name = self.settings.name
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return ApiError.of(
                "timeout",
                f"backboard upstream {name} timed out ({type(exc).__name__})",
                source_format="backboard",
            )
        return ApiError.of(
            "bad_gateway",
            f"cannot reach backboard upstream {name} ({type(exc).__name__})",
            source_format="backboard",
        )

    async def _error(self, response: httpx.Response) -> ApiError:
        raw = b""
        try:
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) > _MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass  # the status alone still makes a meaningful error
        body: Any
        try:
            body = _json.loads(raw)
        except InvalidPayload:
            body = raw.decode("utf-8", "replace")
        error = codec.decode_error(body, response.status_code)
        return attrs.evolve(
            error,
            message=self.redact(error.message),
            retry_after=parse_retry_after(response.headers),
            request_id=response.headers.get("x-request-id"),
        )

    def retryable(self, error: ApiError) -> bool:
        """Whether ``error`` is worth another attempt (BACKBOARD.md's lists)."""
        if error.kind in KEY_FAULT_KINDS:
            return False
        return codec.is_retryable(error.status, error.message)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        key: str,
        json: Any = None,
        form: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with retries; the response (unread) once its status is below 400."""
        url = self.settings.base_url + path
        attempt = 0
        while True:
            kwargs: dict[str, Any] = {}
            if form is not None:
                kwargs["data"] = form_fields(form)
                kwargs["files"] = _files(form)
            elif json is not None:
                kwargs["content"] = _json.dumps(json)
            headers = self._headers(key, stream=stream)
            if "content" in kwargs:
                headers["content-type"] = "application/json"
            request = self.client.build_request(
                method,
                url,
                params=params,
                headers=headers,
                timeout=self._timeout(stream=stream),
                **kwargs,
            )
            try:
                with anyio.fail_after(self.settings.first_byte_timeout):
                    response = await self.client.send(request, stream=True)
            except (httpx.HTTPError, TimeoutError) as exc:
                error = self._unreachable(exc)
                # Only a failure to connect is surely harmless to repeat.
                if not isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                ):
                    raise UpstreamError(error) from None
            else:
                if response.status_code < 400:
                    return response
                try:
                    error = await self._error(response)
                finally:
                    await aclose_shielded(response, broken=(httpx.HTTPError,))
                if not self.retryable(error):
                    raise UpstreamError(error)
            if attempt >= self.settings.retries:
                raise UpstreamError(error)
            await anyio.sleep(self.delay(attempt, error.retry_after))
            attempt += 1

    async def call(self, method: str, path: str, *, key: str, **kwargs: Any) -> Any:
        """A non-streamed call; its JSON body."""
        response = await self._send(method, path, key=key, **kwargs)
        try:
            raw = await response.aread()
        except httpx.HTTPError as exc:
            raise UpstreamError(self._unreachable(exc)) from None
        finally:
            await aclose_shielded(response, broken=(httpx.HTTPError,))
        try:
            return _json.loads(raw) if raw.strip() else {}
        except InvalidPayload:
            raise UpstreamError(
                ApiError.of(
                    "bad_gateway",
                    f"backboard sent a body that is not JSON for {path}",
                    source_format="backboard",
                )
            ) from None

    async def open_stream(self, path: str, *, key: str, **kwargs: Any) -> httpx.Response:
        """A streamed POST; the open response (the caller closes it)."""
        return await self._send("POST", path, key=key, stream=True, **kwargs)

    # -- assistants and threads

    async def find_assistant(self, key: str, name: str) -> str | None:
        """The id of this account's assistant called ``name`` (exact match), if any."""
        body = await self.call(
            "GET", "/assistants", key=key, params={"name": name, "skip": 0, "limit": 100}
        )
        items: Any = body
        if isinstance(body, dict):
            items = body.get("assistants", [])
        if not isinstance(items, list):
            items = []
        for item in items:
            if isinstance(item, dict) and item.get("name") == name:
                assistant_id = item.get("assistant_id") or item.get("id")
                if isinstance(assistant_id, str):
                    return assistant_id
        return None

    async def create_assistant(self, key: str, name: str, system_prompt: str | None) -> str:
        """Create an assistant; its id."""
        payload: dict[str, Any] = {
            "name": name,
            "description": "Created by apibridge for stateless API clients.",
        }
        if system_prompt:
            payload["system_prompt"] = system_prompt
        body = await self.call("POST", "/assistants", key=key, json=payload)
        return _id(body, "assistant_id", "POST /assistants")

    async def create_thread(self, key: str, assistant_id: str) -> str:
        """Create a thread of ``assistant_id``; its id."""
        body = await self.call("POST", f"/assistants/{assistant_id}/threads", key=key, json={})
        return _id(body, "thread_id", "POST /assistants/{id}/threads")

    # -- messages and runs

    def _message_kwargs(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        if fields.get("files"):
            return {"form": fields}
        return {"json": {k: v for k, v in fields.items() if k != "files"}}

    async def send_message(self, key: str, fields: Mapping[str, Any]) -> Any:
        """``POST /threads/messages`` non-streamed; the answer body (either shape)."""
        return await self.call(
            "POST",
            "/threads/messages",
            key=key,
            **self._message_kwargs({**fields, "stream": False}),
        )

    async def stream_message(self, key: str, fields: Mapping[str, Any]) -> httpx.Response:
        """``POST /threads/messages`` streamed; the open SSE response."""
        return await self.open_stream(
            "/threads/messages", key=key, **self._message_kwargs({**fields, "stream": True})
        )

    def _outputs_path(self, thread_id: str, run_id: str) -> str:
        return f"/threads/{thread_id}/runs/{run_id}/submit-tool-outputs"

    async def submit_tool_outputs(
        self, key: str, thread_id: str, run_id: str, payload: Mapping[str, Any]
    ) -> Any:
        """All tool outputs of a run in one call, non-streamed; the answer body."""
        return await self.call(
            "POST",
            self._outputs_path(thread_id, run_id),
            key=key,
            json=dict(payload),
            params={"stream": "false"},
        )

    async def stream_tool_outputs(
        self, key: str, thread_id: str, run_id: str, payload: Mapping[str, Any]
    ) -> httpx.Response:
        """All tool outputs of a run in one call, streamed; the open SSE response."""
        return await self.open_stream(
            self._outputs_path(thread_id, run_id),
            key=key,
            json=dict(payload),
            params={"stream": "true"},
        )

    async def cancel_run(self, key: str, thread_id: str, run_id: str) -> None:
        """Cancel a run (idempotent upstream); failures are ignored: it is cleanup."""
        try:
            with anyio.move_on_after(self.settings.connect_timeout, shield=True):
                await self.call(
                    "POST", f"/threads/{thread_id}/runs/{run_id}/cancel", key=key, json={}
                )
        except UpstreamError:
            pass

    # -- models

    async def list_models(self, key: str) -> list[dict[str, Any]]:
        """Every LLM of every provider, following pagination (``GET /models``)."""
        providers: Sequence[Any] = ()
        try:
            body = await self.call("GET", "/models/providers", key=key)
            providers = body.get("providers", []) if isinstance(body, dict) else []
        except UpstreamError:
            providers = ()
        names = [
            p if isinstance(p, str) else p.get("name")
            for p in providers
            if isinstance(p, str | dict)
        ]
        models: list[dict[str, Any]] = []
        wanted: list[str | None] = [n for n in names if isinstance(n, str)]
        # Without a provider list, one unfiltered listing still gives every model.
        for provider in wanted or [None]:
            models.extend(await self._models_of(key, provider))
        return models

    async def _models_of(self, key: str, provider: str | None) -> list[dict[str, Any]]:
        page, skip = 500, 0
        out: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"model_type": "llm", "skip": skip, "limit": page}
            if provider is not None:
                params["provider"] = provider
            body = await self.call("GET", "/models", key=key, params=params)
            items = body.get("models", []) if isinstance(body, dict) else []
            out.extend(m for m in items if isinstance(m, dict))
            total = body.get("total") if isinstance(body, dict) else None
            skip += len(items)
            if not items:
                return out
            if isinstance(total, int) and skip >= total:
                return out
            if not isinstance(total, int) and len(items) < page:
                return out


def _id(body: Any, field: str, where: str) -> str:
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise UpstreamError(
            ApiError.of(
                "bad_gateway",
                f"backboard answered {where} without {field}",
                source_format="backboard",
            )
        )
    return value
