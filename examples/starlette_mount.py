"""apibridge mounted inside a Starlette application (FastAPI: the same ``app.mount`` call).

The gateway answers under ``/llm``: point an Anthropic client at ``http://127.0.0.1:8000/llm``
and an OpenAI client at ``http://127.0.0.1:8000/llm/v1``. The upstream comes from
``APIBRIDGE_UPSTREAM`` (``format=base_url``, e.g. ``chat=http://127.0.0.1:11434/v1``) and
``APIBRIDGE_UPSTREAM_KEY``; without them an offline echo upstream answers.

Needs: ``pip install 'apibridge[server]' starlette`` (uvicorn comes with the ``server`` extra;
Starlette, or FastAPI, is your application's own dependency, which no apibridge extra installs).

Run: ``python examples/starlette_mount.py``
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import apibridge.asgi


def build(env: Mapping[str, str]) -> Starlette:
    """The host application with the gateway mounted at ``/llm``."""
    bridge = apibridge.asgi.App(
        upstream=env.get("APIBRIDGE_UPSTREAM", "scripted=echo"),
        api_key=env.get("APIBRIDGE_UPSTREAM_KEY"),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # a mounted app receives no lifespan events: close its upstream pool from here
        await bridge.aclose()

    async def home(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "from the host application"})

    return Starlette(routes=[Route("/", home), Mount("/llm", app=bridge)], lifespan=lifespan)


app = build(os.environ)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
