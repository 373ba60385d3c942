"""The web search settings the three APIs share: an approximate user location and a context size.

Anthropic's ``web_search`` tool and the Responses ``web_search`` tool hold the location flat
(``{"type": "approximate", "city": …}``); Chat's ``web_search_options`` nests it
(``{"type": "approximate", "approximate": {"city": …}}``). :func:`flat_location` reads either
spelling, so a location reaches every target whichever client sent it. ``search_context_size``
(``low``/``medium``/``high``) exists in Chat and Responses only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["LOCATION_KEYS", "flat_location"]

#: the place fields of an approximate location (all free text, the country an ISO code).
LOCATION_KEYS: Final = ("city", "region", "country", "timezone")


def flat_location(location: Mapping[str, Any]) -> dict[str, Any]:
    """``{"type": "approximate", city…}`` from a flat or a Chat-nested location (only the
    place fields that are strings; an empty place still says ``approximate``)."""
    nested = location.get("approximate")
    place = nested if isinstance(nested, Mapping) else location
    out: dict[str, Any] = {"type": "approximate"}
    for key in LOCATION_KEYS:
        value = place.get(key)
        if isinstance(value, str):
            out[key] = value
    return out
