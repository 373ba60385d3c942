"""The reasoning envelope: versioned, exact, and never mistaken for a native value."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from apibridge.codecs.envelope import PREFIX, Envelope, open_envelope, seal


@given(
    st.sampled_from(["anthropic", "responses", "none"]),
    st.sampled_from(["signature", "redacted", "encrypted"]),
    st.one_of(st.none(), st.text(max_size=300)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_seal_then_open_is_exact(origin: str, kind: str, data: str | None, id_: str | None) -> None:
    env = Envelope(origin=origin, kind=kind, data=data, id=id_)
    sealed = seal(env)
    assert sealed.startswith(PREFIX)
    assert "=" not in sealed
    assert "\n" not in sealed
    assert open_envelope(sealed) == env


def test_native_values_are_not_envelopes() -> None:
    assert open_envelope(None) is None
    assert open_envelope("") is None
    assert open_envelope("EqQBCkgIARABGAIiQL") is None  # an Anthropic-style signature
    assert open_envelope("gAAAAABo...") is None  # an OpenAI-style encrypted blob
    assert open_envelope(PREFIX + "!!!not base64!!!") is None
    assert open_envelope(PREFIX + "bnVsbA") is None  # valid base64 of JSON null
