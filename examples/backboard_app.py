"""A chat application on backboard.io, written against the OpenAI SDK, through apibridge.

backboard.io keeps each conversation in a *thread* on its side; the OpenAI and Anthropic APIs
send the whole transcript every time. Through the gateway an application can do either:

* send the whole transcript, as with any OpenAI server: the gateway finds the thread the
  transcript belongs to (or starts one) and sends backboard only the newest turn;
* name its conversation (the ``x-backboard-conversation-id`` header) and send only the newest
  message, as this program does on its second turn.

Needs: ``pip install 'apibridge[server]' openai``.

Run it against a gateway you started (``BBD_API_KEY=… apibridge serve``)::

    python examples/backboard_app.py --gateway http://127.0.0.1:8080

or let it start one with your environment (``BBD_API_KEY`` must be set; ``BBD_UPSTREAM``
names another backboard server)::

    BBD_API_KEY=your-key python examples/backboard_app.py --model openai/gpt-4o
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).parent))
from gateway_process import serve


def converse(
    base_url: str, model: str, questions: Sequence[str], *, key: str = "unused"
) -> list[str]:
    """Ask ``questions`` in one conversation; the answers.

    The first question goes with the whole (one-message) transcript, not streamed; every later
    one goes alone, streamed, in the conversation the header names.
    """
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0, timeout=120)
    conversation = {"x-backboard-conversation-id": f"app-{uuid.uuid4()}"}
    answers: list[str] = []
    first = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": questions[0]},
        ],
        extra_headers=conversation,
    )
    answers.append(first.choices[0].message.content or "")
    print(f"1: {answers[-1]}")
    for number, question in enumerate(questions[1:], start=2):
        chunks = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": question}],  # only the new message
            stream=True,
            extra_headers=conversation,
        )
        answers.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        print(f"{number}: {answers[-1]}")
    return answers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gateway", help="root URL of a running gateway (without /v1)")
    parser.add_argument("--model", default="openai/gpt-4o")
    parser.add_argument(
        "questions", nargs="*", default=["My name is Ada.", "What is my name?"], metavar="QUESTION"
    )
    args = parser.parse_args(argv)
    if args.gateway:
        converse(args.gateway, args.model, args.questions)
        return 0
    with serve([]) as root:  # `apibridge serve` alone: the backboard settings come from BBD_*
        converse(root, args.model, args.questions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
