"""Acceptance tests: real clients through apibridge on loopback (see docs/clients.md)."""
