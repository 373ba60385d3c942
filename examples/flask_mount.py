"""apibridge's WSGI app mounted inside a Flask application.

The gateway answers under ``/llm`` (``DispatcherMiddleware`` hands it every path below that
prefix): point an Anthropic client at ``http://127.0.0.1:8000/llm`` and an OpenAI client at
``http://127.0.0.1:8000/llm/v1``. The upstream comes from ``APIBRIDGE_UPSTREAM`` and
``APIBRIDGE_UPSTREAM_KEY``, as in ``starlette_mount.py``; without them an offline echo
upstream answers.

Needs: ``pip install 'apibridge[http]' flask`` (Flask is your application's own dependency,
which no apibridge extra installs).

Run: ``python examples/flask_mount.py`` (or under any WSGI server: ``gunicorn
examples.flask_mount:app``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import apibridge.wsgi


def build(env: Mapping[str, str]) -> tuple[Flask, apibridge.wsgi.App]:
    """The Flask application with the gateway mounted at ``/llm``, and the gateway."""
    flask_app = Flask(__name__)
    bridge = apibridge.wsgi.App(
        upstream=env.get("APIBRIDGE_UPSTREAM", "scripted=echo"),
        api_key=env.get("APIBRIDGE_UPSTREAM_KEY"),
    )

    @flask_app.get("/")
    def home() -> dict[str, Any]:
        return {"hello": "from the host application"}

    flask_app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app, {"/llm": bridge}
    )
    return flask_app, bridge


app, gateway = build(os.environ)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000, threaded=True)
