"""What a reply to a muster mail means (pure): an answer, a comment, or a polite refusal.

The reply's own text is what is left once the quoted history (`> ` lines and everything from
an "On … wrote:" / "-----Original Message-----" / Outlook `From:`+`Sent:` block on) and the
signature (from a `-- ` line, or "Sent from my …") are cut. Then:

- a question waits and has options: a first line equal to an option's text (any case, quotes
  and a final `.`/`!` ignored) or to its number (`2`, `2.`, `#2`, `(2)`) answers it; the rest
  of the text, if any, is added as a comment. A number that is not an option is refused with
  the valid choices. Any other text is a comment.
- a question waits without options (free text): the first line is the answer.
- no question waits: a bare number is refused (the question was answered or timed out, so the
  number would be a meaningless comment); anything else is a comment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_COMMENT_CHARS",
    "AddComment",
    "Answer",
    "Refuse",
    "decide_reply",
    "strip_reply",
]

MAX_COMMENT_CHARS = 60_000
_ATTRIBUTION = re.compile(
    r"^\s*(on|am|le|el|op|il|em|den)\s.*"
    r"(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev)\s*:\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"forwarded message|weitergeleitete nachricht)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(from|von|de|van)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(sent|date|gesendet|envoyé|to|an|à|subject)\s*:", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(-- ?|sent from my .+|get outlook for .+)$", re.IGNORECASE)
_NUMBER = re.compile(r"^[#(\[]?\s*(\d{1,3})\s*[.)\]:]?$")
_TRIM = "\"'\u201c\u201d\u2018\u2019.! \t"  # quotes (also typographic), . and !


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the waiting question with `value`; `rest` (may be empty) becomes a comment."""

    value: str
    rest: str


@dataclass(frozen=True, slots=True)
class AddComment:
    """Add `body` as a comment by the sender."""

    body: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """Refuse the message; `reason` goes back to the sender."""

    reason: str


def strip_reply(text: str) -> str:
    """The reply's own text: without the quoted history and the signature, trimmed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _ATTRIBUTION.match(line) or _wrapped_attribution(line, following):
            break
        if _SEPARATOR.match(line) or _SIGNATURE.match(line.strip()) or line == "-- ":
            break
        if _HEADER_FROM.match(line) and _HEADER_NEXT.match(following):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def decide_reply(text: str, options: Sequence[str] | None) -> Answer | AddComment | Refuse:
    """What a reply does; `options` are the waiting question's (None: no question waits)."""
    own = strip_reply(text)
    if not own:
        return Refuse("the reply has no text of its own above the quoted message")
    first, _, rest = own.partition("\n")
    first, rest = first.strip(), rest.strip()
    number = _number(first)
    if options is None:
        if number is not None:
            return Refuse(
                "no question is waiting for an answer on this incident (it was answered or "
                "timed out); write words to add a comment"
            )
        return AddComment(_bounded(own))
    if not options:
        return Answer(first, _bounded(rest))
    wanted = first.strip(_TRIM).casefold()
    for option in options:
        if option.strip(_TRIM).casefold() == wanted:
            return Answer(option, _bounded(rest))
    if number is not None:
        if 1 <= number <= len(options):
            return Answer(options[number - 1], _bounded(rest))
        listed = ", ".join(f"{i} ({option})" for i, option in enumerate(options, 1))
        return Refuse(
            f"there is no option {number}; reply with the number or the text of one of: {listed}"
        )
    return AddComment(_bounded(own))


def _wrapped_attribution(line: str, following: str) -> bool:
    """An attribution wrapped onto a second, short line (`On …, Muster <m@x>` / `wrote:`)."""
    tail = following.strip()
    if len(tail.split()) > 4 or not re.search(r"\d", line):  # attributions carry a date
        return False
    return bool(_ATTRIBUTION.match(f"{line.strip()} {tail}"))


def _number(line: str) -> int | None:
    match = _NUMBER.match(line.strip())
    return int(match.group(1)) if match else None


def _bounded(text: str) -> str:
    """`text`, cut to `MAX_COMMENT_CHARS` with a note when longer."""
    if len(text) <= MAX_COMMENT_CHARS:
        return text
    return text[:MAX_COMMENT_CHARS].rstrip() + "\n[… cut: the e-mail was longer]"
