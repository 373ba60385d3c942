"""Host names as the gateway sees them: the name in a ``Host`` header, loopback or not."""

from __future__ import annotations

import ipaddress

__all__ = ["host_name", "is_loopback"]


def host_name(value: str) -> str:
    """The name part of a ``Host`` header value, lower-case, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        return value[1 : value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or a ``Host`` name) names this machine's loopback."""
    name = host_name(host) if host else ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
