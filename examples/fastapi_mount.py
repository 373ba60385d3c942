"""apibridge's ASGI app mounted inside a FastAPI application.

The gateway answers under ``/llm``: point an Anthropic client at ``http://127.0.0.1:8000/llm``
and an OpenAI client at ``http://127.0.0.1:8000/llm/v1``. The upstream comes from
``APIBRIDGE_UPSTREAM`` (``format=base_url``, e.g. ``chat=http://127.0.0.1:11434/v1``) and
``APIBRIDGE_UPSTREAM_KEY``; without them an offline echo upstream answers.

Needs: ``pip install 'apibridge[server]' fastapi`` (FastAPI is your application's own
dependency, which no apibridge extra installs).

Run: ``python examples/fastapi_mount.py`` (or ``uvicorn examples.fastapi_mount:app``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping

from fastapi import FastAPI

import apibridge.asgi


def build(env: Mapping[str, str]) -> FastAPI:
    """The FastAPI application with the gateway mounted at ``/llm``."""
    bridge = apibridge.asgi.App(
        upstream=env.get("APIBRIDGE_UPSTREAM", "scripted=echo"),
        api_key=env.get("APIBRIDGE_UPSTREAM_KEY"),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # a mounted app receives no lifespan events: close its upstream pool from here
        await bridge.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"hello": "from the host application"}

    app.mount("/llm", bridge)
    return app


app = build(os.environ)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
