"""The ``gemini`` codec: Google's Gemini ``generateContent`` API (``POST /v1beta/models/
{model}:generateContent`` and ``:streamGenerateContent``), as a client format and as an
upstream. The conventions every half of it shares (spelling, call ids, thought signatures,
finish reasons, error statuses) are in ``_wire``."""
