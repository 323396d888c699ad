"""The outside-world actions against real servers on loopback ports.

`send_webhook` and `http_request` talk to a stdlib `ThreadingHTTPServer` that records every
request; `send_email` talks to a real `aiosmtpd` SMTP server. No mocks: what is asserted is
what actually went over the wire.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError

from muster.config import Settings
from muster.soar.actions.base import ActionContext, RetryableError, load_actions
from muster.soar.actions.http_actions import (
    MAX_TEXT_BYTES,
    HostNotAllowed,
    RequestFailed,
    host_allowed,
)
from muster.soar.actions.notify_actions import MailRefused

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PROCESS_ID = uuid.UUID("5f0c2b7e-1111-4222-8333-444455556666")
INCIDENT = {
    "id": "7d3c1f0e-0000-4000-8000-000000000001",
    "incidentHash": "ABCD-EFGH",
    "number": 42,
    "severity": 4,
    "createdAt": "2026-03-02T09:00:00Z",
}


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------ the HTTP server


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    url: str
    requests: list[Received] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    """Records the request; the path chooses the answer."""

    server: RecordingServer

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(
            self.command,
            parts.path,
            parse_qs(parts.query),
            {name.lower(): value for name, value in self.headers.items()},
            self.rfile.read(length),
        )
        self.server.recorded.append(received)
        route = parts.path
        if route == "/slow":
            time.sleep(2)
        status, kind, body, extra = {
            "/ok": (200, "application/json", b'{"accepted": true, "n": 1}', {}),
            "/text": (200, "text/plain; charset=utf-8", "fine \u2713".encode(), {}),
            "/big": (200, "text/plain", b"x" * (MAX_TEXT_BYTES + 1000), {}),
            "/unavailable": (503, "text/plain", b"down for maintenance", {}),
            "/missing": (404, "application/problem+json", b'{"title": "Not Found"}', {}),
            "/moved": (302, "text/plain", b"", {"Location": "http://127.0.0.1:1/elsewhere"}),
            "/slow": (200, "application/json", b"{}", {}),
        }.get(route, (200, "application/json", b"{}", {}))
        if route == "/echo":
            body = json.dumps(
                {"method": self.command, "query": received.query, "body": received.body.decode()}
            ).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"v1"')
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


class RecordingServer(ThreadingHTTPServer):
    """A loopback HTTP server on a free port that keeps every request it answered."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.recorded: list[Received] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the timeout tests) is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture()
def http_server() -> Iterator[HttpServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(f"http://127.0.0.1:{server.server_address[1]}", server.recorded)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ------------------------------------------------------------------ the SMTP server


class MailHandler:
    """Keeps every accepted envelope; refuses some recipients and, when told, the data."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.data_reply = "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "450 4.2.1 mailbox busy"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply


def parsed(envelope: Envelope) -> EmailMessage:
    """The message as the server received it."""
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class MailServer:
    port: int
    handler: MailHandler


@pytest.fixture()
def mail_server() -> Iterator[MailServer]:
    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailServer(port, handler)
    finally:
        controller.stop()


# ------------------------------------------------------------------ running actions


def context(
    settings: Settings | None = None,
    allowed: tuple[str, ...] | list[str] = ("127.0.0.1",),
    run: int = 3,
) -> ActionContext:
    return ActionContext(
        tenant_id=uuid.uuid4(),
        process_id=PROCESS_ID,
        step_id="notify",
        incident=INCIDENT,
        memory={},
        now=NOW,
        settings=settings or Settings(database_url="sqlite://"),
        idempotency_key=f"{PROCESS_ID}:{run}",
        tenant_settings={"soarAllowedHosts": list(allowed)},
    )


def run(action: str, params: dict[str, Any], ctx: ActionContext | None = None) -> dict[str, Any]:
    """Validate, run outside any transaction, dump the output as the engine does."""
    cls = load_actions()[action]
    assert not cls.in_transaction
    output = cls().run(ctx or context(), cls.Input.model_validate(params))
    return output.model_dump(mode="json")


class TestSendWebhook:
    def test_posts_the_incident_with_the_idempotency_key(self, http_server: HttpServer) -> None:
        out = run("send_webhook", {"url": f"{http_server.url}/ok"})
        assert out == {"status": 200, "body": {"accepted": True, "n": 1}, "truncated": False}
        [request] = http_server.requests
        assert (request.method, request.path) == ("POST", "/ok")
        assert request.headers["idempotency-key"] == f"{PROCESS_ID}:3"
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.body) == {
            **INCIDENT,
            "processId": str(PROCESS_ID),
            "stepId": "notify",
        }

    def test_sends_the_given_body_and_headers_but_keeps_its_own_key(
        self, http_server: HttpServer
    ) -> None:
        params = {
            "url": f"{http_server.url}/text",
            "headers": {"X-Token": "s3cret", "idempotency-key": "forged"},
            "body": {"text": "Incident #42", "at": NOW},
        }
        out = run("send_webhook", params)
        assert out == {"status": 200, "body": "fine \u2713", "truncated": False}
        [request] = http_server.requests
        assert request.headers["x-token"] == "s3cret"
        assert request.headers["idempotency-key"] == f"{PROCESS_ID}:3"
        assert json.loads(request.body) == {"text": "Incident #42", "at": "2026-03-02T09:30:00Z"}

    def test_a_503_is_retryable(self, http_server: HttpServer) -> None:
        with pytest.raises(RetryableError, match="HTTP 503: down for maintenance"):
            run("send_webhook", {"url": f"{http_server.url}/unavailable"})

    def test_a_404_fails_without_retry(self, http_server: HttpServer) -> None:
        with pytest.raises(RequestFailed, match="HTTP 404") as caught:
            run("send_webhook", {"url": f"{http_server.url}/missing"})
        assert not isinstance(caught.value, RetryableError)

    def test_a_redirect_is_not_followed(self, http_server: HttpServer) -> None:
        with pytest.raises(RequestFailed, match="HTTP 302"):
            run("send_webhook", {"url": f"{http_server.url}/moved"})
        assert [r.path for r in http_server.requests] == ["/moved"]

    def test_a_refused_connection_is_retryable(self) -> None:
        with pytest.raises(RetryableError, match="ConnectError"):
            run("send_webhook", {"url": f"http://127.0.0.1:{free_port()}/hook"})

    def test_a_slow_receiver_times_out_retryably(self, http_server: HttpServer) -> None:
        settings = Settings(database_url="sqlite://", http_action_timeout_seconds=0.3)
        started = time.monotonic()
        with pytest.raises(RetryableError, match="Timeout"):
            run("send_webhook", {"url": f"{http_server.url}/slow"}, context(settings))
        assert time.monotonic() - started < 1.5

    @pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "/relative"])
    def test_only_http_urls_are_accepted(self, url: str) -> None:
        with pytest.raises(ValidationError, match="http"):
            load_actions()["send_webhook"].Input.model_validate({"url": url})


class TestHttpRequest:
    def test_get_with_query_parses_json(self, http_server: HttpServer) -> None:
        out = run(
            "http_request",
            {"url": f"{http_server.url}/echo", "query": {"ip": "10.0.0.1", "n": [1, 2]}},
            context(allowed=["127.0.0.1"]),
        )
        assert out["status"] == 200
        assert out["body"] == {
            "method": "GET",
            "query": {"ip": ["10.0.0.1"], "n": ["1", "2"]},
            "body": "",
        }
        assert out["headers"]["content-type"] == "application/json"
        assert out["headers"]["etag"] == '"v1"'
        assert "idempotency-key" not in http_server.requests[0].headers

    def test_post_json_and_put_text(self, http_server: HttpServer) -> None:
        ctx = context(allowed=["127.0.0.1"])
        url = f"{http_server.url}/echo"
        out = run(
            "http_request", {"method": "post", "url": url, "json": {"block": ["1.2.3.4"]}}, ctx
        )
        assert out["body"]["method"] == "POST"
        assert json.loads(out["body"]["body"]) == {"block": ["1.2.3.4"]}
        assert http_server.requests[0].headers["idempotency-key"] == f"{PROCESS_ID}:3"
        out = run(
            "http_request",
            {
                "method": "PUT",
                "url": url,
                "body": "plain words",
                "headers": {"Content-Type": "text/plain"},
            },
            ctx,
        )
        assert out["body"] == {"method": "PUT", "query": {}, "body": "plain words"}
        assert http_server.requests[1].headers["content-type"] == "text/plain"

    def test_a_host_outside_the_allow_list_is_refused_before_any_request(
        self, http_server: HttpServer
    ) -> None:
        for allowed in ([], ["*.example.com", "localhost"]):
            with pytest.raises(HostNotAllowed) as caught:
                run("http_request", {"url": f"{http_server.url}/ok"}, context(allowed=allowed))
            assert "'127.0.0.1'" in str(caught.value)
            assert "soarAllowedHosts" in str(caught.value)
            assert not isinstance(caught.value, RetryableError)
        assert http_server.requests == []

    def test_expected_statuses_are_success_others_fail(self, http_server: HttpServer) -> None:
        ctx = context(allowed=["127.0.0.1"])
        url = f"{http_server.url}/missing"
        out = run("http_request", {"url": url, "expectStatus": [200, 404]}, ctx)
        assert (out["status"], out["body"]) == (404, {"title": "Not Found"})
        with pytest.raises(RequestFailed, match="HTTP 404"):
            run("http_request", {"url": url}, ctx)
        with pytest.raises(RetryableError, match="HTTP 503"):
            run("http_request", {"url": f"{http_server.url}/unavailable"}, ctx)
        moved = run("http_request", {"url": f"{http_server.url}/moved", "expectStatus": [302]}, ctx)
        assert moved["headers"]["location"] == "http://127.0.0.1:1/elsewhere"

    def test_a_long_text_body_is_cut_at_64_kib(self, http_server: HttpServer) -> None:
        out = run("http_request", {"url": f"{http_server.url}/big"}, context(allowed=["127.0.0.1"]))
        assert out["body"] == "x" * MAX_TEXT_BYTES
        assert out["truncated"] is True

    def test_a_refused_connection_is_retryable(self) -> None:
        with pytest.raises(RetryableError):
            run(
                "http_request",
                {"url": f"http://127.0.0.1:{free_port()}/"},
                context(allowed=["127.0.0.1"]),
            )

    def test_the_step_may_shorten_the_timeout(self, http_server: HttpServer) -> None:
        started = time.monotonic()
        with pytest.raises(RetryableError, match="Timeout"):
            run(
                "http_request",
                {"url": f"{http_server.url}/slow", "timeoutSeconds": 0.3},
                context(allowed=["127.0.0.1"]),
            )
        assert time.monotonic() - started < 1.5

    def test_json_and_text_bodies_are_exclusive(self) -> None:
        with pytest.raises(ValidationError, match="not both"):
            load_actions()["http_request"].Input.model_validate(
                {"url": "http://x.example", "json": {}, "body": "x"}
            )


def test_webhooks_go_only_to_allowed_hosts(http_server: HttpServer) -> None:
    with pytest.raises(HostNotAllowed):
        run("send_webhook", {"url": f"{http_server.url}/ok"}, context(allowed=[]))


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("api.example.com", ["api.example.com"], True),
        ("API.Example.COM.", ["api.example.com"], True),
        ("a.b.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
        ("evilexample.com", ["*.example.com"], False),
        ("example.com.evil.net", ["*.example.com", "example.com"], False),
        ("10.0.0.8", ["10.0.0.8"], True),
        ("::1", ["[::1]"], True),
        ("api.example.com", [], False),
    ],
)
def test_host_allowed(host: str, allowed: list[str], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


class TestSendEmail:
    def settings(self, port: int) -> Settings:
        return Settings(
            database_url="sqlite://",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_from="Muster SOAR <soar@example.test>",
            smtp_timeout_seconds=5,
        )

    def test_the_message_arrives_tagged_with_a_stable_message_id(
        self, mail_server: MailServer
    ) -> None:
        params = {
            "to": ["Analyst@Example.test", "lead@example.test"],
            "subject": "Severity raised",
            "body": "Incident #42 is now High.\n",
        }
        ctx = context(self.settings(mail_server.port))
        out = run("send_email", params, ctx)
        expected_id = f"<soar.{PROCESS_ID}.3@example.test>"
        assert out == {
            "messageId": expected_id,
            "subject": "Severity raised [#ABCD-EFGH]",
            "to": ["analyst@example.test", "lead@example.test"],
            "refused": {},
        }
        [envelope] = mail_server.handler.envelopes
        assert envelope.mail_from == "soar@example.test"
        assert envelope.rcpt_tos == ["analyst@example.test", "lead@example.test"]
        message = parsed(envelope)
        assert message["To"] == "analyst@example.test, lead@example.test"
        assert message["Subject"] == "Severity raised [#ABCD-EFGH]"
        assert message["Message-ID"] == expected_id
        assert message["X-Muster-Incident"] == "ABCD-EFGH"
        body = message.get_body()
        assert body is not None
        assert body.get_content().replace("\r\n", "\n") == "Incident #42 is now High.\n"

        run("send_email", params, ctx)  # a repeat after a crash is recognisable
        first, second = mail_server.handler.envelopes
        assert first is envelope
        assert parsed(second)["Message-ID"] == expected_id

    def test_a_subject_with_the_tag_keeps_it_once(self, mail_server: MailServer) -> None:
        params = {"to": "soc@example.test", "subject": "[#abcd-efgh] phishing", "body": "b"}
        out = run("send_email", params, context(self.settings(mail_server.port)))
        assert out["subject"] == "[#abcd-efgh] phishing"

    def test_a_refused_recipient_is_reported_not_fatal(self, mail_server: MailServer) -> None:
        params = {"to": ["soc@example.test", "nobody@example.test"], "subject": "s", "body": "b"}
        out = run("send_email", params, context(self.settings(mail_server.port)))
        assert out["to"] == ["soc@example.test"]
        assert out["refused"] == {"nobody@example.test": "550 5.1.1 no such mailbox"}
        assert mail_server.handler.envelopes[0].rcpt_tos == ["soc@example.test"]

    def test_a_4xx_reply_is_retryable_and_a_5xx_is_not(self, mail_server: MailServer) -> None:
        ctx = context(self.settings(mail_server.port))
        params = {"to": ["soc@example.test"], "subject": "s", "body": "b"}
        mail_server.handler.data_reply = "451 4.3.0 try again later"
        with pytest.raises(RetryableError, match="451"):
            run("send_email", params, ctx)
        with pytest.raises(RetryableError, match="450"):
            run("send_email", {**params, "to": ["busy@example.test"]}, ctx)
        mail_server.handler.data_reply = "554 5.7.1 rejected as spam"
        with pytest.raises(MailRefused, match="554"):
            run("send_email", params, ctx)
        with pytest.raises(MailRefused, match="550"):
            run("send_email", {**params, "to": ["nobody@example.test"]}, ctx)
        assert mail_server.handler.envelopes == []

    def test_no_server_is_retryable(self) -> None:
        with pytest.raises(RetryableError, match=r"127\.0\.0\.1"):
            run(
                "send_email",
                {"to": ["soc@example.test"], "subject": "s", "body": "b"},
                context(self.settings(free_port())),
            )

    @pytest.mark.parametrize(
        "params",
        [
            {"to": [], "subject": "s", "body": "b"},
            {"to": ["not an address"], "subject": "s", "body": "b"},
            {"to": ["soc@example.test"], "subject": "s\r\nBcc: victim@example.test", "body": "b"},
        ],
    )
    def test_bad_input_is_refused(self, params: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            load_actions()["send_email"].Input.model_validate(params)
