"""The incident queue page over real HTTP: filters, sort, keyset paging, live rows, bulk
actions, and the tenant switcher with a global admin's all-tenants queue."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from muster.db.engine import Database
from muster.models.enums import Role
from tests.factories import TenantKeys, alert
from tests.web.conftest import (
    add_member,
    api_incident,
    login,
    open_incident,
    page_token,
    rows_of,
)


def row_html(html: str, incident_id: str) -> str:
    """The <tr> of one incident."""
    found = re.search(rf'<tr data-incident-id="{incident_id}".*?</tr>', html, re.S)
    assert found is not None, f"no row for {incident_id}"
    return found.group(0)


def cell(row: str, name: str) -> str:
    """The text of a row's `td.<name>` (tags stripped, spaces collapsed)."""
    found = re.search(rf'<td class="{name}[^"]*"[^>]*>(.*?)</td>', row, re.S)
    assert found is not None, f"no td.{name} in {row}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


@pytest.fixture()
def three(client: httpx.Client, tenant: TenantKeys, web_user: tuple[str, str]) -> dict[str, str]:
    """Three incidents of the tenant: high+tagged, low+assigned, resolved."""
    tag = f"tag-{uuid.uuid4().hex[:6]}"
    high = open_incident(client, tenant, severity=4, tags=[tag])
    low = open_incident(client, tenant, severity=2, assignee=web_user[0])
    done = open_incident(client, tenant, severity=3)
    patch = client.patch(
        f"/api/v1/incidents/{done}",
        json={"status": "RESOLVED", "resolution": "FALSE_POSITIVE"},
        headers=tenant.headers(),
    )
    assert patch.status_code == 200, patch.text
    return {"high": high, "low": low, "done": done, "tag": tag}


class TestRows:
    def test_each_row_shows_its_incident(
        self, web: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        ingested = client.post(
            "/api/v1/alerts",
            json=alert(severity=4, ruleName=f"rule {uuid.uuid4().hex}"),
            headers=tenant.headers(),
        )
        incident_id = ingested.json()["items"][0]["incidentId"]
        expected = api_incident(client, tenant, incident_id)
        page = web.get("/ui/queue")
        assert page.status_code == 200
        for marker in ('id="filters"', 'id="queue"', 'id="queue-rows"', 'id="bulk-form"'):
            assert marker in page.text
        row = row_html(page.text, incident_id)
        assert f'href="/ui/incidents/{incident_id}"' in row and 'class="incident-link"' in row
        assert f'name="ids" value="{incident_id}"' in row
        assert cell(row, "severity") == "High"
        assert cell(row, "status") == expected["status"]
        assert cell(row, "assignee") == "unassigned"
        assert cell(row, "soar") == expected["soarStatus"]
        sla = cell(row, "sla")
        assert sla.startswith(str(expected["slaState"])) and sla.endswith("left"), sla
        assert f'data-deadline="{expected["slaResponseDueAt"]}"'.replace("Z", "+00:00") in row

    def test_the_rows_partial_polls_itself(self, web: httpx.Client, three: dict[str, str]) -> None:
        resp = web.get("/ui/queue/rows", params={"severity": "4"}, headers={"HX-Request": "true"})
        assert resp.status_code == 200
        assert resp.text.lstrip().startswith('<tbody id="queue-rows"')
        assert 'hx-trigger="every 1s"' in resp.text  # ui_refresh_seconds of tests/conftest.py
        assert 'hx-get="/ui/queue/rows?severity=4"' in resp.text
        assert three["high"] in rows_of(resp.text) and three["low"] not in rows_of(resp.text)


class TestFilters:
    @pytest.mark.parametrize(
        ("params", "wanted"),
        [
            ({"status": "RESOLVED"}, {"done"}),
            ({"status": "OPEN"}, {"high", "low"}),
            ({"severity": "4"}, {"high"}),
            ({"assignee": "mine"}, {"low"}),
            ({"assignee": "unassigned"}, {"high", "done"}),
            ({"slaState": "met"}, {"done"}),
            ({"filter": 'severity >= 3 and status = "OPEN"'}, {"high"}),
            ({"source": "manual", "severity": "2"}, {"low"}),
        ],
    )
    def test_a_filter_selects_its_incidents(
        self,
        web: httpx.Client,
        three: dict[str, str],
        params: dict[str, str],
        wanted: set[str],
    ) -> None:
        shown = set(rows_of(web.get("/ui/queue", params=params).text))
        ours = {name for name in ("high", "low", "done") if three[name] in shown}
        assert ours == wanted

    def test_tag_and_assignee_by_email(
        self, web: httpx.Client, three: dict[str, str], web_user: tuple[str, str]
    ) -> None:
        assert rows_of(web.get("/ui/queue", params={"tag": three["tag"]}).text) == [three["high"]]
        by_email = rows_of(web.get("/ui/queue", params={"assignee": web_user[0]}).text)
        assert by_email == [three["low"]]

    def test_soar_assignee(
        self, web: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        mine = open_incident(client, tenant)
        resp = client.patch(
            f"/api/v1/incidents/{mine}", json={"assignee": "SOAR"}, headers=tenant.headers()
        )
        assert resp.status_code == 200, resp.text
        assert rows_of(web.get("/ui/queue", params={"assignee": "SOAR"}).text) == [mine]

    def test_sort(self, web: httpx.Client, three: dict[str, str]) -> None:
        ours = [three["high"], three["low"], three["done"]]
        ascending = [i for i in rows_of(web.get("/ui/queue?sort=%2Bnumber").text) if i in ours]
        descending = [i for i in rows_of(web.get("/ui/queue?sort=-number").text) if i in ours]
        assert ascending == ours and descending == ours[::-1]

    def test_the_form_keeps_the_filters(self, web: httpx.Client) -> None:
        html = web.get("/ui/queue", params={"severity": "3", "tag": "x<y"}).text
        assert '<option value="3" selected>' in html
        assert 'name="tag" value="x&lt;y"' in html

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"status": "DONE"}, "status"),
            ({"severity": "9"}, "severity"),
            ({"slaState": "late"}, "slaState"),
            ({"sort": "colour"}, "sort"),
            ({"filter": "severity >>> 3"}, "filter"),
            ({"cursor": "not-a-cursor"}, "cursor"),
        ],
    )
    def test_bad_filters_are_a_400_page_naming_the_field(
        self, web: httpx.Client, params: dict[str, str], field: str
    ) -> None:
        resp = web.get("/ui/queue", params=params)
        assert resp.status_code == 400, resp.text
        assert resp.headers["content-type"].startswith("text/html")
        detail = re.search(r'id="error-detail" role="alert">([^<]*)<', resp.text)
        assert detail is not None and detail.group(1).strip()
        if field != "filter":
            assert field in detail.group(1)


class TestPaging:
    def test_next_page_continues_where_the_first_ended(
        self, web: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = {open_incident(client, tenant) for _ in range(53)}
        first = web.get("/ui/queue")
        page_one = rows_of(first.text)
        assert len(page_one) == 50
        link = re.search(r'<a id="next-page" href="([^"]+)"', first.text)
        assert link is not None
        second = web.get(link.group(1).replace("&amp;", "&"))
        page_two = rows_of(second.text)
        assert not set(page_one) & set(page_two)
        assert set(page_one) | set(page_two) >= made
        assert 'id="next-page"' not in second.text  # this tenant has nothing more


class TestBulk:
    def test_bulk_assign_then_resolve(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        web_user: tuple[str, str],
    ) -> None:
        ids = [open_incident(client, tenant) for _ in range(2)]
        token = page_token(web)
        resp = web.post(
            "/ui/queue/bulk",
            data={
                "csrf_token": token,
                "ids": ids,
                "assignee": web_user[0],
                "action": "assign",
                "next": "/ui/queue?status=OPEN",
            },
        )
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/queue?status=OPEN"
        assert all(api_incident(client, tenant, i)["assignee"] == web_user[0] for i in ids)
        resp = web.post(
            "/ui/queue/bulk",
            data={
                "csrf_token": token,
                "ids": ids,
                "resolution": "BENIGN_POSITIVE",
                "action": "resolve",
            },
        )
        assert resp.status_code == 303
        for incident_id in ids:
            found = api_incident(client, tenant, incident_id)
            assert (found["status"], found["resolution"]) == ("RESOLVED", "BENIGN_POSITIVE")

    def test_bulk_is_all_or_nothing(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
    ) -> None:
        mine = open_incident(client, tenant)
        theirs = open_incident(client, other_tenant)
        resp = web.post(
            "/ui/queue/bulk",
            data={
                "csrf_token": page_token(web),
                "ids": [mine, theirs],
                "resolution": "FALSE_POSITIVE",
                "action": "resolve",
            },
        )
        assert resp.status_code == 404
        assert api_incident(client, tenant, mine)["status"] == "OPEN"
        assert api_incident(client, other_tenant, theirs)["status"] == "OPEN"

    @pytest.mark.parametrize(
        ("extra", "status"),
        [
            ({"csrf_token": None}, 403),
            ({"csrf_token": "forged"}, 403),
            ({"resolution": ""}, 400),
        ],
    )
    def test_refused_bulk_changes_nothing(
        self,
        web: httpx.Client,
        client: httpx.Client,
        tenant: TenantKeys,
        extra: dict[str, str | None],
        status: int,
    ) -> None:
        incident_id = open_incident(client, tenant)
        data = {
            "csrf_token": page_token(web),
            "ids": [incident_id],
            "resolution": "TRUE_POSITIVE",
            "action": "resolve",
            **extra,
        }
        resp = web.post("/ui/queue/bulk", data={k: v for k, v in data.items() if v is not None})
        assert resp.status_code == status, resp.text
        assert api_incident(client, tenant, incident_id)["status"] == "OPEN"


class TestTenants:
    def test_a_member_of_two_tenants_switches(
        self,
        base_url: str,
        db: Database,
        client: httpx.Client,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
    ) -> None:
        email, password = add_member(db, tenant.id)
        add_member(db, other_tenant.id, email=email)
        here, there = open_incident(client, tenant), open_incident(client, other_tenant)
        with httpx.Client(base_url=base_url) as web:
            assert login(web, email, password).status_code == 303
            page = web.get("/ui/queue").text
            assert 'id="tenant-form"' in page and 'id="tenant-switcher"' in page
            assert f'value="{tenant.id}"' in page and f'value="{other_tenant.id}"' in page
            assert 'value="all"' not in page
            token = page_token(web)
            shown = {}
            for chosen in (tenant, other_tenant):
                resp = web.post("/ui/tenant", data={"csrf_token": token, "tenant": str(chosen.id)})
                assert resp.status_code == 303 and resp.headers["location"] == "/ui/queue"
                shown[chosen.id] = set(rows_of(web.get("/ui/queue").text))
            assert here in shown[tenant.id] and there not in shown[tenant.id]
            assert there in shown[other_tenant.id] and here not in shown[other_tenant.id]
            assert (
                web.post("/ui/tenant", data={"csrf_token": token, "tenant": "all"}).status_code
                == 404
            )
            stranger = str(uuid.uuid4())
            assert (
                web.post("/ui/tenant", data={"csrf_token": token, "tenant": stranger}).status_code
                == 404
            )

    def test_one_tenant_members_have_no_switcher(self, web: httpx.Client) -> None:
        assert 'id="tenant-switcher"' not in web.get("/ui/queue").text

    def test_a_global_admin_sees_every_tenant(
        self,
        base_url: str,
        db: Database,
        client: httpx.Client,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
    ) -> None:
        email, password = add_member(db, tenant.id, Role.GLOBAL_ADMIN)
        tag = f"mssp-{uuid.uuid4().hex[:6]}"
        ours = open_incident(client, tenant, tags=[tag])
        theirs = open_incident(client, other_tenant, tags=[tag])
        with httpx.Client(base_url=base_url) as web:
            assert login(web, email, password).status_code == 303
            html = web.get("/ui/queue", params={"tag": tag}).text
            assert 'value="all" selected' in html
            assert set(rows_of(html)) == {ours, theirs}
            assert other_tenant.name in row_html(html, theirs)
            page = web.get(f"/ui/incidents/{theirs}")
            assert page.status_code == 200 and 'id="incident-title"' in page.text
            token = page_token(web)
            resp = web.post(
                "/ui/queue/bulk",
                data={
                    "csrf_token": token,
                    "ids": [ours, theirs],
                    "resolution": "UNDETERMINED",
                    "action": "resolve",
                },
            )
            assert resp.status_code == 303, resp.text
            assert api_incident(client, other_tenant, theirs)["status"] == "RESOLVED"
            assert api_incident(client, tenant, ours)["status"] == "RESOLVED"
            web.post("/ui/tenant", data={"csrf_token": token, "tenant": str(tenant.id)})
            assert set(rows_of(web.get("/ui/queue", params={"tag": tag}).text)) == {ours}
