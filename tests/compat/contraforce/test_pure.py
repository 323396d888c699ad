"""The facade's pure decisions and renderers, with plain values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from muster.compat.contraforce import decisions, objects, paging, windows
from muster.compat.contraforce.errors import errors_map, v2_code
from muster.compat.views import IncidentView
from muster.errors import InvalidInput

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def view(**over: object) -> IncidentView:
    """An incident view with plain values."""
    fields: dict[str, object] = dict(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        tenant_name="acme",
        number=7,
        title="t",
        description="d",
        severity=4,
        status="RESOLVED",
        resolution="DUPLICATE",
        resolution_reason=None,
        resolution_comment=None,
        assignee="SOAR",
        assignee_name="SOAR",
        assignee_user_id=None,
        tags=[],
        created_at=NOW,
        updated_at=NOW,
        first_activity_at=None,
        last_activity_at=None,
        alerts_count=0,
        version=1,
        source="manual",
    )
    fields.update(over)
    return IncidentView(**fields)  # type: ignore[arg-type]


def test_windows_default_and_check_order() -> None:
    assert windows.window(None, None, NOW, timedelta(hours=24)) == (NOW - timedelta(hours=24), NOW)
    naive = datetime(2026, 2, 1)
    assert windows.window(naive, None, NOW, timedelta(0))[0] == naive.replace(tzinfo=UTC)
    with pytest.raises(InvalidInput):
        windows.window(NOW, NOW - timedelta(hours=1), NOW, timedelta(hours=1))
    assert windows.preset_window("fourtyEightHours", None, None, NOW)[0] == NOW - timedelta(
        hours=48
    )
    with pytest.raises(InvalidInput):
        windows.preset_window("Custom", None, None, NOW)


def test_page_tokens_round_trip_and_refuse_forgeries() -> None:
    token = paging.PageToken("abc", NOW - timedelta(hours=1), NOW)
    assert paging.decode(paging.encode(token), "pageToken") == token
    for forged in ("", "abc", "cf1.!!!", paging.TOKEN_PREFIX + "e30"):
        with pytest.raises(InvalidInput) as caught:
            paging.decode(forged, "pageToken")
        assert caught.value.errors[0]["field"] == "pageToken"


def test_status_change_applies_the_verdict_only_when_closing() -> None:
    closing = decisions.status_change("closed", "Undetermined", "InaccurateData", "note")
    assert closing["status"] == "RESOLVED" and closing["resolution"] == "UNDETERMINED"
    assert closing["resolution_comment"] == "note"
    assert decisions.status_change("Active", "TruePositive", "Malware", None) == {
        "status": "UNDER_INVESTIGATION"
    }
    with pytest.raises(InvalidInput):  # checked even when not applied
        decisions.status_change("Active", "TruePositive", "NotMalicious", None)
    with pytest.raises(InvalidInput) as caught:
        decisions.status_change("Closed", None, None, None, prefix="items[3].")
    assert caught.value.errors[0]["field"] == "items[3].classification"


def test_evidence_segments_pick_the_source() -> None:
    ident = str(uuid.uuid4())
    assert decisions.evidence_segments("sentinel", ident) == ("Sentinel", ident)
    assert decisions.evidence_segments(ident, "QRadar") == ("QRadar", ident)
    with pytest.raises(InvalidInput):
        decisions.evidence_segments(ident, ident)


def test_assignee_expression() -> None:
    assert decisions.assignee_expression([], True) is None
    both = decisions.assignee_expression(['a"b@x.test'], True)
    assert both == 'assignee in ("a\\"b@x.test") or assignee = null'


def test_v2_codes_and_error_maps() -> None:
    assert v2_code(400, "validation_failed", True) == "VALIDATION_ERROR"
    assert v2_code(400, "request.malformed_json", False) == "BAD_REQUEST"
    assert v2_code(403, "auth.role_required", False) == "INSUFFICIENT_WORKSPACE_ROLE"
    assert v2_code(500, "internal_error", False) == "INTERNAL_ERROR"
    assert errors_map([{"field": "a", "message": "x"}, {"field": "a", "message": "y"}]) == {
        "a": ["x", "y"]
    }


def test_soar_and_merged_incidents_render() -> None:
    shown = objects.beta_incident(view())
    assert shown["user"] == {"id": None, "displayName": "SOAR", "email": None}
    assert shown["isAssigned"] is True and shown["status"] == 3
    assert shown["classification"] == 4 and shown["classificationReason"] == "Duplicate"
    assert shown["creationTime"] == "2026-03-01T12:00:00Z"
    item = objects.v2_item(view(status="OPEN", resolution=None, assignee=None), [])
    assert item["status"] == "New" and item["classification"] is None
    assert item["severity"] == "High" and item["name"] is None and item["entities"] == []
