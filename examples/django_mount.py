"""apibridge's WSGI app beside a Django project, in one WSGI application.

Django routes URLs to views, not to other WSGI applications, so the gateway is joined to the
project one level up: ``mount`` hands every request under ``/llm`` to the gateway
(moving the prefix from ``PATH_INFO`` to ``SCRIPT_NAME``, as any WSGI mount does) and every
other request to Django. Point an Anthropic client at ``http://127.0.0.1:8000/llm`` and an
OpenAI client at ``http://127.0.0.1:8000/llm/v1``. The upstream comes from
``APIBRIDGE_UPSTREAM`` and ``APIBRIDGE_UPSTREAM_KEY``; without them an offline echo upstream
answers. (Under an ASGI server, mount ``apibridge.asgi.App`` beside
``django.core.asgi.get_asgi_application()`` the same way.)

This file is a whole Django project (settings, one view, the URLs); in yours, wrap the
application of your ``wsgi.py``: ``application = mount(get_wsgi_application(), "/llm", bridge)``.

Needs: ``pip install 'apibridge[http]' django`` (Django is your application's own dependency,
which no apibridge extra installs).

Run: ``python examples/django_mount.py`` (or ``gunicorn examples.django_mount:application``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

import apibridge.wsgi

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def home(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "from the host application"})


urlpatterns = [path("", home)]


def mount(host: WSGIApp, prefix: str, app: WSGIApp) -> WSGIApp:
    """``host``, with every request under ``prefix`` handed to ``app`` instead."""

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path_info = environ.get("PATH_INFO", "")
        if path_info == prefix or path_info.startswith(prefix + "/"):
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path_info[len(prefix) :]
            return app(environ, start_response)
        return host(environ, start_response)

    return dispatch


def build(env: Mapping[str, str]) -> tuple[WSGIApp, apibridge.wsgi.App]:
    """The Django project with the gateway mounted at ``/llm``, and the gateway."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY=env.get("DJANGO_SECRET_KEY", "example-only-not-secret"),
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
        )
        django.setup()
    from django.core.wsgi import get_wsgi_application

    bridge = apibridge.wsgi.App(
        upstream=env.get("APIBRIDGE_UPSTREAM", "scripted=echo"),
        api_key=env.get("APIBRIDGE_UPSTREAM_KEY"),
    )
    return mount(get_wsgi_application(), "/llm", bridge), bridge


application, gateway = build(os.environ)

if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    make_server("127.0.0.1", 8000, application).serve_forever()
