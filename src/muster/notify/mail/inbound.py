"""Reading an inbound message (pure): sender, subject, incident hashes, text, attachments.

Parsing uses the stdlib `email` package with `policy=default`. A message is refused as
malformed (`Malformed`) when it has no usable `From` address, or when its MIME structure is
broken: a multipart without (or with a missing) boundary, header lines without a colon, a
body that is not what its headers say. Automatic messages (auto-replies, delivery reports,
list traffic) are recognised so they never become comments.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import errors as mime_errors
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from muster.ids import HASH_ALPHABET, normalise_incident_hash

__all__ = [
    "Attachment",
    "Inbound",
    "Malformed",
    "incident_hashes",
    "parse",
]

MAX_HEADERS = 200
MAX_HEADER_CHARS = 2000
MAX_URLS = 50
_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_HASH = re.compile(r"\[\s*#?\s*([0-9A-Za-z]{4})[\s-]?([0-9A-Za-z]{4})\s*\]")
_BROKEN = (
    mime_errors.NoBoundaryInMultipartDefect,
    mime_errors.StartBoundaryNotFoundDefect,
    mime_errors.CloseBoundaryNotFoundDefect,
    mime_errors.MultipartInvariantViolationDefect,
    mime_errors.MissingHeaderBodySeparatorDefect,
    mime_errors.FirstHeaderLineIsContinuationDefect,
    mime_errors.InvalidMultipartContentTransferEncodingDefect,
)
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


class Malformed(ValueError):
    """The message cannot be read as e-mail; the text says why."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attached file (or forwarded message): its name, type, size and SHA-256; for a
    forwarded message also its own From, Subject, Date and Message-ID."""

    name: str
    content_type: str
    size: int
    sha256: str
    message: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """What muster reads from a message."""

    sender: str
    sender_name: str
    subject: str
    message_id: str | None
    date: str | None
    to: tuple[str, ...]
    text: str
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]
    automatic: bool
    urls: tuple[str, ...] = ()


def parse(raw: bytes) -> Inbound:
    """The message, or `Malformed` saying what is wrong with it."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    broken = _broken(message)
    if broken:
        raise Malformed(f"broken MIME structure ({broken})")
    try:
        name, sender = parseaddr(str(message.get("From", "")))
        body = message.get_body(preferencelist=("plain", "html"))
        text = _text_of(body) if body is not None else ""
        attachments = tuple(_attachments(message, body))
        urls = _urls([text, *(_forwarded_text(part) for part in _leaves(message))])
        headers = tuple(
            (key, _header_text(value)) for key, value in list(message.items())[:MAX_HEADERS]
        )
        to = tuple(
            address.lower()
            for _, address in getaddresses(
                [str(value) for value in message.get_all("To", []) + message.get_all("Cc", [])]
            )
            if "@" in address
        )
    except (LookupError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise Malformed(f"unreadable message: {type(exc).__name__}: {exc}") from None
    if "@" not in sender or any(c.isspace() for c in sender):
        raise Malformed("no sender address in From")
    return Inbound(
        sender=sender.strip().lower(),
        sender_name=name.strip(),
        subject=" ".join(str(message.get("Subject", "")).split()),
        message_id=_optional(message.get("Message-ID")),
        date=_optional(message.get("Date")),
        to=to,
        text=text,
        attachments=attachments,
        headers=headers,
        automatic=_automatic(message),
        urls=urls,
    )


def incident_hashes(subject: str) -> list[str]:
    """The incident hashes a subject carries in brackets (`[K7Q2-M4XP]`, `[#k7q2-m4xp]`,
    `[K7Q2 M4XP]`…), normalised, in order; only well-formed Crockford codes."""
    found: list[str] = []
    for match in _HASH.finditer(subject):
        code = normalise_incident_hash(match.group(1) + match.group(2))
        if all(c in HASH_ALPHABET for c in code.replace("-", "")) and code not in found:
            found.append(code)
    return found


def _urls(texts: list[str]) -> tuple[str, ...]:
    """The http(s) URLs in the texts, once each, in order, at most `MAX_URLS`."""
    found = (url.rstrip(".,;:!?") for text in texts for url in _URL.findall(text))
    return tuple(url for url in dict.fromkeys(found) if len(url) <= 512)[:MAX_URLS]


def _forwarded_text(part: Message) -> str:
    """The text of a forwarded message (message/rfc822 part); '' for other parts."""
    if part.get_content_type() != "message/rfc822":
        return ""
    inner = part.get_payload(0)
    if not isinstance(inner, EmailMessage):
        return ""
    body = inner.get_body(preferencelist=("plain", "html"))
    return _text_of(body) if body is not None else ""


def _broken(message: Message) -> str | None:
    """The name of the first structural defect in any part, or None."""
    for part in _parts(message):
        for defect in part.defects:
            if isinstance(defect, _BROKEN):
                return type(defect).__name__
    return None


def _parts(message: Message) -> Iterator[Message]:
    yield message
    if message.is_multipart():
        for sub in message.get_payload():
            if isinstance(sub, Message):
                yield from _parts(sub)


def _automatic(message: Message) -> bool:
    """Auto-replies, delivery reports and list traffic (RFC 3834, RFC 3464, Precedence)."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    if str(message.get("Precedence", "")).strip().lower() in _AUTOMATIC_PRECEDENCE:
        return True
    return message.get_content_type() == "multipart/report"


def _text_of(part: Message) -> str:
    """A text part's content as text (HTML reduced to its text, quoted blocks left out)."""
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except LookupError:  # an unknown charset: read it as UTF-8
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        raise Malformed("the text part is not text")
    text = content.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if part.get_content_type() == "text/html":
        text = html_text(text)
    return text


def _attachments(message: Message, body: Message | None) -> Iterator[Attachment]:
    """Every attached file and forwarded message (not the text part read as the body)."""
    for part in _leaves(message):
        if part is body:
            continue
        content_type = part.get_content_type()
        filename = part.get_filename()
        if content_type == "message/rfc822":
            inner = part.get_payload(0)
            data = inner.as_bytes() if isinstance(inner, Message) else b""
            summary = {
                key: _header_text(inner.get(key, ""))
                for key in ("From", "To", "Subject", "Date", "Message-ID")
                if isinstance(inner, Message) and inner.get(key)
            }
            yield _attachment(filename or "message.eml", content_type, data, summary)
        elif filename or part.get_content_disposition() == "attachment":
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            yield _attachment(filename or "(unnamed)", content_type, data, None)


def _leaves(message: Message) -> Iterator[Message]:
    """Non-multipart parts, depth first; a forwarded message is one leaf."""
    if message.get_content_type() == "message/rfc822" or not message.is_multipart():
        yield message
        return
    for sub in message.get_payload():
        if isinstance(sub, Message):
            yield from _leaves(sub)


def _attachment(
    name: str, content_type: str, data: bytes, message: dict[str, str] | None
) -> Attachment:
    return Attachment(
        name=" ".join(name.split())[:255],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        message=message,
    )


def _header_text(value: object) -> str:
    return " ".join(str(value).replace("\x00", "").split())[:MAX_HEADER_CHARS]


def _optional(value: object) -> str | None:
    text = _header_text(value) if value is not None else ""
    return text or None


class _HtmlText(HTMLParser):
    """Text of an HTML body: block elements end lines; quotes, styles and scripts go."""

    _SKIP = frozenset({"blockquote", "style", "script", "head", "title"})
    _BREAK = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(" ".join(data.split()) if data.strip() else "")


def html_text(html: str) -> str:
    """The readable text of an HTML body, one line per block."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.chunks).splitlines()]
    return "\n".join(lines).strip()
