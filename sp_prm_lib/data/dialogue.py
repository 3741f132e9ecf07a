"""HH-style dialogue text ("\\n\\nHuman: ...\\n\\nAssistant: ...") and chat messages.

A turn marker is a blank line then ``Human:`` or ``Assistant:``; the blank
line may use Windows line endings ("\\r\\n\\r\\nAssistant:"), which a few
scraped or re-saved rows have in some turns only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
_MARKER = re.compile(r"\r?\n\r?\n(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}
_MARKER_OF = {"user": HUMAN, "assistant": ASSISTANT}


def normalize_markers(text: str) -> str:
    """``text`` with every turn marker written "\\n\\nHuman:" / "\\n\\nAssistant:" (the
    text inside the turns is left as it is)."""
    return _MARKER.sub(lambda m: f"\n\n{m.group(1)}:", text)


def split_last_turn(dialogue: str) -> tuple[str, str] | None:
    """(prompt up to and including the last Assistant marker, stripped reply).

    The prompt's markers are normalised to "\\n\\n" (see
    :func:`normalize_markers`), so it ends with "\\n\\nAssistant:" and two
    dialogues that differ only in the line endings of their markers share
    one prompt. None when the dialogue has no Assistant turn.
    """
    last = None
    for match in _MARKER.finditer(dialogue):
        if match.group(1) == "Assistant":
            last = match
    if last is None:
        return None
    return normalize_markers(dialogue[: last.end()]), dialogue[last.end() :].strip()


def dialogue_to_messages(prompt: str, *, merge: bool = True) -> list[dict[str, str]]:
    """Chat messages (role user/assistant, plus system for leading text) of a prompt.

    A prompt without markers is one user message. The final empty
    "\\n\\nAssistant:" slot is left out: chat templates add it themselves.
    With ``merge``, consecutive turns of one speaker (a few real HH-RLHF
    dialogues have them) are joined by a blank line, since most chat
    templates require alternating roles.
    """
    parts = _MARKER.split(prompt)
    if len(parts) == 1:
        return [{"role": "user", "content": prompt.strip()}]
    if parts[-2] == "Assistant" and not parts[-1].strip():
        parts = parts[:-2]
    messages: list[dict[str, str]] = []
    if parts[0].strip():
        messages.append({"role": "system", "content": parts[0].strip()})
    for speaker, content in zip(parts[1::2], parts[2::2]):
        role, content = _ROLE[speaker], content.strip()
        if merge and messages and messages[-1]["role"] == role:
            joined = "\n\n".join(x for x in (messages[-1]["content"], content) if x)
            messages[-1] = {"role": role, "content": joined}
        else:
            messages.append({"role": role, "content": content})
    return messages


def messages_to_dialogue(messages: Sequence[Mapping[str, str]], *, open_reply: bool = True) -> str:
    """HH-style text of chat messages; ends with "\\n\\nAssistant:" when ``open_reply``.

    A system message, allowed only first, becomes leading text before the
    first turn. Raises ValueError on any other role or a later system message.
    """
    out = []
    for index, message in enumerate(messages):
        role, content = message["role"], message["content"].strip()
        if role == "system":
            if index:
                raise ValueError("a system message must come first")
            out.append(content)
        elif role in _MARKER_OF:
            out.append(f"{_MARKER_OF[role]} {content}" if content else _MARKER_OF[role])
        else:
            raise ValueError(f"unknown role {role!r}")
    if open_reply:
        out.append(ASSISTANT)
    return "".join(out)
