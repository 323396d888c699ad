"""The incident page over real HTTP: every seed field, alerts with raw on demand, entities,
ATT&CK names, timeline, comments, and each form (through the same services as the API);
CSRF, roles and tenancy; attacker-controlled strings come back inert."""

from __future__ import annotations

import html as htmllib
import json
import re
import uuid
from typing import Any

import httpx
import pytest

from muster.attack import tactic_id, technique_name
from muster.db.engine import Database
from muster.models.enums import Role
from tests.api.apicalls import INCIDENT_SEED_FIELDS
from tests.factories import TenantKeys, alert
from tests.web.conftest import (
    add_member,
    api_incident,
    assert_secure,
    login,
    open_incident,
    page_token,
)

XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(2)>'


def ingest(client: httpx.Client, tenant: TenantKeys, **fields: Any) -> dict[str, Any]:
    """Ingest one alert that opens its own incident; the ingest item."""
    unique = {
        "ruleName": f"rule {uuid.uuid4().hex}",
        "hostname": f"host-{uuid.uuid4().hex[:8]}",
        "username": f"u-{uuid.uuid4().hex[:8]}@corp.example",
        "srcIp": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7",
    }
    body = alert(**{**unique, **fields})
    resp = client.post("/api/v1/alerts", json=body, headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    item = dict(resp.json()["items"][0])
    item["body"] = body
    return item


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id (tags stripped, entities decoded)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found is not None, f"no #{element_id}"
    return htmllib.unescape(" ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split()))


def post(web: httpx.Client, incident_id: str, action: str, **data: Any) -> httpx.Response:
    """Submit one of the incident page's forms with the session's token."""
    token = page_token(web, f"/ui/incidents/{incident_id}")
    return web.post(f"/ui/incidents/{incident_id}/{action}", data={"csrf_token": token, **data})


@pytest.fixture()
def ingested(client: httpx.Client, tenant: TenantKeys) -> dict[str, Any]:
    return ingest(client, tenant, mitreTactic="Execution", mitreTechnique="T1059.001")


class TestPage:
    def test_every_part_of_the_page(
        self, web: httpx.Client, client: httpx.Client, tenant: TenantKeys, ingested: dict[str, Any]
    ) -> None:
        incident_id = ingested["incidentId"]
        expected = api_incident(client, tenant, incident_id)
        resp = web.get(f"/ui/incidents/{incident_id}")
        assert resp.status_code == 200
        page = resp.text
        assert text_of(page, "incident-title") == expected["description"]
        assert text_of(page, "incident-number") == f"#{expected['number']}"
        assert text_of(page, "incident-hash") == expected["incidentHash"]
        assert text_of(page, "incident-status") == expected["status"]
        assert text_of(page, "incident-assignee") == "unassigned"
        assert text_of(page, "sla-state").startswith(f"SLA {expected['slaState']}")
        fields = dict(re.findall(r"<dt>([^<]+)</dt><dd data-field=\"[^\"]+\">([^<]*)</dd>", page))
        assert set(fields) >= INCIDENT_SEED_FIELDS
        assert fields["incidentHash"] == expected["incidentHash"]
        assert fields["tenant"] == tenant.name and fields["alerts"] == "1"
        mitre = text_of(page, "mitre")
        assert "Execution" in mitre and tactic_id("Execution") in mitre
        assert "T1059.001" in mitre and technique_name("T1059.001") in mitre
        assert f'<tr data-alert-id="{ingested["alertId"]}">' in page
        assert 'class="show-raw' in page and 'class="move-form"' in page
        entities = text_of(page, "entities")
        assert ingested["body"]["hostname"] in entities
        assert "incident.created" in text_of(page, "timeline")
        for form in (
            "assign-form",
            "status-form",
            "resolve-form",
            "comment-form",
            "tags-form",
            "exclude-form",
            "merge-form",
        ):
            assert f'id="{form}"' in page
        assert re.search(r'<select name="resolution" required>', page)
        assert text_of(page, "soar-status") == expected["soarStatus"]

    def test_the_raw_payload_on_demand(self, web: httpx.Client, ingested: dict[str, Any]) -> None:
        incident_id, alert_id = ingested["incidentId"], ingested["alertId"]
        page = web.get(f"/ui/incidents/{incident_id}").text
        assert 'class="raw"' not in page  # not loaded with the page
        raw = web.get(
            f"/ui/incidents/{incident_id}/alerts/{alert_id}/raw", headers={"HX-Request": "true"}
        )
        assert raw.status_code == 200
        assert raw.text.startswith(f'<pre class="raw" id="raw-{alert_id}">')
        assert ingested["body"]["externalId"] in raw.text
        assert htmllib.escape(ingested["body"]["initiatorCmd"], quote=False) in raw.text

    def test_another_incidents_alert_has_no_raw_here(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        ingested: dict[str, Any],
    ) -> None:
        elsewhere = open_incident(client, tenant)
        resp = web.get(f"/ui/incidents/{elsewhere}/alerts/{ingested['alertId']}/raw")
        assert resp.status_code == 404


class TestSafety:
    def test_every_page_carries_the_security_headers(
        self, web: httpx.Client, ingested: dict[str, Any]
    ) -> None:
        incident_id, alert_id = ingested["incidentId"], ingested["alertId"]
        for path in (
            "/ui/queue",
            "/ui/queue/rows",
            f"/ui/incidents/{incident_id}",
            f"/ui/incidents/{incident_id}/alerts/{alert_id}/raw",
            "/ui/incidents/00000000-0000-0000-0000-000000000000",
            "/ui/queue?status=NOPE",
        ):
            resp = web.get(path)
            assert_secure(resp)
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", resp.text), path
            assert "style=" not in resp.text, path
        page = web.get(f"/ui/incidents/{incident_id}").text
        config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)
        assert config is not None
        assert json.loads(config.group(1)) == {
            "includeIndicatorStyles": False,
            "allowEval": False,
            "allowScriptTags": False,
            "selfRequestsOnly": True,
        }
        headers = re.search(r"<body hx-headers='([^']+)'>", page)
        assert headers is not None
        assert json.loads(htmllib.unescape(headers.group(1))) == {"X-CSRF-Token": page_token(web)}

    def test_attacker_strings_come_back_escaped(
        self, web: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        found = ingest(
            client, tenant, ruleName=XSS, description=XSS_ATTR, initiatorCmd=XSS, tags=[XSS]
        )
        incident_id = found["incidentId"]
        pages = [
            web.get(f"/ui/incidents/{incident_id}").text,
            web.get(f"/ui/incidents/{incident_id}/alerts/{found['alertId']}/raw").text,
            web.get("/ui/queue").text,
        ]
        for page in pages:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            assert "<script>alert" not in page
            assert "<img src=x" not in page
        assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in pages[0]

    def test_a_comment_with_markup_is_text(
        self, web: httpx.Client, ingested: dict[str, Any]
    ) -> None:
        incident_id = ingested["incidentId"]
        assert post(web, incident_id, "comment", body=XSS).status_code == 303
        page = web.get(f"/ui/incidents/{incident_id}").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


class TestForms:
    def test_assign_status_and_resolve(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        web_user: tuple[str, str],
        ingested: dict[str, Any],
    ) -> None:
        incident_id = ingested["incidentId"]
        resp = post(web, incident_id, "assign", assignee=web_user[0])
        assert (
            resp.status_code == 303 and resp.headers["location"] == f"/ui/incidents/{incident_id}"
        )
        assert api_incident(client, tenant, incident_id)["assignee"] == web_user[0]
        assert post(web, incident_id, "status", status="UNDER_INVESTIGATION").status_code == 303
        assert api_incident(client, tenant, incident_id)["status"] == "UNDER_INVESTIGATION"
        refused = post(web, incident_id, "resolve", resolution="", comment="done")
        assert refused.status_code == 400 and "resolution" in refused.text
        assert api_incident(client, tenant, incident_id)["status"] == "UNDER_INVESTIGATION"
        resp = post(
            web,
            incident_id,
            "resolve",
            resolution="TRUE_POSITIVE",
            resolutionReason="Malware",
            comment="cleaned up",
        )
        assert resp.status_code == 303, resp.text
        found = api_incident(client, tenant, incident_id)
        assert (found["status"], found["resolution"]) == ("RESOLVED", "TRUE_POSITIVE")
        assert found["resolutionReason"] == "Malware"
        assert found["resolutionComment"] == "cleaned up"
        timeline = text_of(web.get(f"/ui/incidents/{incident_id}").text, "timeline")
        assert "status: UNDER_INVESTIGATION → RESOLVED" in timeline
        assert "Web analyst" in timeline  # the user's name, not an id

    def test_a_lifecycle_refusal_is_a_page_with_the_reason(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        ingested: dict[str, Any],
    ) -> None:
        incident_id = ingested["incidentId"]
        resp = post(web, incident_id, "resolve", resolution="DUPLICATE", resolutionReason="Malware")
        assert resp.status_code == 400, resp.text
        assert "resolution" in resp.text.lower()
        assert api_incident(client, tenant, incident_id)["status"] == "OPEN"

    def test_comment_tags_and_exclude(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        ingested: dict[str, Any],
    ) -> None:
        incident_id = ingested["incidentId"]
        assert post(web, incident_id, "comment", body="looking into it").status_code == 303
        comments = client.get(f"/api/v1/incidents/{incident_id}/comments", headers=tenant.headers())
        assert [c["body"] for c in comments.json()] == ["looking into it"]
        assert "looking into it" in text_of(
            web.get(f"/ui/incidents/{incident_id}").text, "comments"
        )
        assert post(web, incident_id, "tags", tags="phishing, vip ,, phishing").status_code == 303
        assert api_incident(client, tenant, incident_id)["tags"] == ["phishing", "vip"]
        assert post(web, incident_id, "exclude", excludeFromSLA="true").status_code == 303
        assert api_incident(client, tenant, incident_id)["excludeFromSLA"] is True
        assert post(web, incident_id, "exclude").status_code == 303
        assert api_incident(client, tenant, incident_id)["excludeFromSLA"] is False

    def test_merge_and_move(
        self, web: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        target = ingest(client, tenant)
        other = ingest(client, tenant)
        third = ingest(client, tenant)
        by_hash = api_incident(client, tenant, third["incidentId"])["incidentHash"]
        resp = post(
            web, target["incidentId"], "merge", incidentIds=f"{other['incidentId']}, {by_hash}"
        )
        assert resp.status_code == 303, resp.text
        merged = api_incident(client, tenant, target["incidentId"])
        assert {a["id"] for a in merged["alerts"]} == {
            target["alertId"],
            other["alertId"],
            third["alertId"],
        }
        assert api_incident(client, tenant, other["incidentId"])["resolution"] == "DUPLICATE"
        fresh = open_incident(client, tenant)
        number = api_incident(client, tenant, fresh)["number"]
        moved = post(
            web, target["incidentId"], f"alerts/{target['alertId']}/move", incidentId=f"#{number}"
        )
        assert moved.status_code == 303, moved.text
        assert [a["id"] for a in api_incident(client, tenant, fresh)["alerts"]] == [
            target["alertId"]
        ]
        for beyond in ("#99999999999", "#²"):  # numbers no incident can have: found by none
            refused = post(web, fresh, f"alerts/{target['alertId']}/move", incidentId=beyond)
            assert refused.status_code == 404, (beyond, refused.text)

    @pytest.mark.parametrize("token", [None, "forged"])
    def test_csrf_refusal_changes_nothing(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        ingested: dict[str, Any],
        token: str | None,
    ) -> None:
        incident_id = ingested["incidentId"]
        data = {"body": "sneaky"} if token is None else {"body": "sneaky", "csrf_token": token}
        resp = web.post(f"/ui/incidents/{incident_id}/comment", data=data)
        assert resp.status_code == 403
        header = web.post(
            f"/ui/incidents/{incident_id}/comment",
            data={"body": "sneaky"},
            headers={"X-CSRF-Token": "forged"},
        )
        assert header.status_code == 403
        comments = client.get(f"/api/v1/incidents/{incident_id}/comments", headers=tenant.headers())
        assert comments.json() == []

    def test_htmx_requests_may_send_the_token_in_a_header(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        ingested: dict[str, Any],
    ) -> None:
        incident_id = ingested["incidentId"]
        token = page_token(web)
        resp = web.post(
            f"/ui/incidents/{incident_id}/comment",
            data={"body": "via htmx"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert resp.status_code == 303
        comments = client.get(f"/api/v1/incidents/{incident_id}/comments", headers=tenant.headers())
        assert [c["body"] for c in comments.json()] == ["via htmx"]


class TestAccess:
    def test_another_tenants_incident_is_a_404_page(
        self, web: httpx.Client, client: httpx.Client, other_tenant: TenantKeys
    ) -> None:
        theirs = open_incident(client, other_tenant)
        page = web.get(f"/ui/incidents/{theirs}")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        token = page_token(web)
        resp = web.post(f"/ui/incidents/{theirs}/comment", data={"csrf_token": token, "body": "x"})
        assert resp.status_code == 404
        comments = client.get(
            f"/api/v1/incidents/{theirs}/comments", headers=other_tenant.headers()
        )
        assert comments.json() == []

    def test_a_viewer_reads_but_cannot_change(
        self,
        base_url: str,
        db: Database,
        client: httpx.Client,
        tenant: TenantKeys,
    ) -> None:
        email, password = add_member(db, tenant.id, Role.VIEWER)
        incident_id = open_incident(client, tenant)
        with httpx.Client(base_url=base_url) as web:
            login(web, email, password)
            assert web.get(f"/ui/incidents/{incident_id}").status_code == 200
            resp = post(web, incident_id, "status", status="UNDER_INVESTIGATION")
            assert resp.status_code == 403
        assert api_incident(client, tenant, incident_id)["status"] == "OPEN"

    def test_a_malformed_id_is_a_400_page(self, web: httpx.Client) -> None:
        resp = web.get("/ui/incidents/not-a-uuid")
        assert resp.status_code == 400 and resp.headers["content-type"].startswith("text/html")
