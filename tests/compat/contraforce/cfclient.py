"""Tiny ContraForce clients written the way ContraForce's own public sample client calls
the API (reference.md §2.2, integrations-examples `contraforce/client.py`): HTTP Basic with
a client id and secret, `requests`-style calls with JSON bodies, the legacy routes without
`{source}` for comments and status, closing with Undetermined / InaccurateData; plus the
beta partner client (`x-api-key`, `tenantId`)."""

from __future__ import annotations

from typing import Any

import httpx

from muster.auth.keys import client_credentials


class ContraForceClient:
    """A v2 client: one service account (clientId/clientSecret) against a base URL."""

    def __init__(self, base_url: str, api_key: str) -> None:
        client_id, client_secret = client_credentials(api_key)
        self.http = httpx.Client(
            base_url=f"{base_url}/api/v2", auth=(client_id, client_secret), timeout=30
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()

    # --- the sample client's calls (legacy shape, source in the body) ----------------------
    def post_comment(
        self, workspace_id: str, incident_id: str, content: str, source: str = "Sentinel"
    ) -> httpx.Response:
        """POST .../incidents/{id}/comments with the sample client's body."""
        body = {
            "incidentId": incident_id,
            "commentId": None,
            "content": content,
            "extensionId": None,
            "source": source,
        }
        return self.http.post(
            f"/workspaces/{workspace_id}/incidents/{incident_id}/comments", json=body
        )

    def close_incident(
        self,
        workspace_id: str,
        incident_id: str,
        comment: str | None = None,
        classification: str = "Undetermined",
        classification_reason: str = "InaccurateData",
        source: str = "Sentinel",
    ) -> httpx.Response:
        """PUT .../incidents/{id}/status closing with the sample client's neutral default."""
        body = {
            "incidentId": incident_id,
            "source": source,
            "status": "Closed",
            "comment": comment,
            "classification": classification,
            "classificationReason": classification_reason,
        }
        return self.http.put(
            f"/workspaces/{workspace_id}/incidents/{incident_id}/status", json=body
        )

    # --- the current shape -----------------------------------------------------------------
    def incident(
        self, workspace_id: str, incident_id: str, source: str = "Sentinel", details: bool = False
    ) -> httpx.Response:
        """GET one incident (optionally withDetails)."""
        params = {"withDetails": "true"} if details else None
        return self.http.get(
            f"/workspaces/{workspace_id}/incidents/{source}/{incident_id}", params=params
        )

    def sub(
        self, method: str, workspace_id: str, incident_id: str, tail: str, **kw: Any
    ) -> httpx.Response:
        """Any call under `/workspaces/{ws}/incidents/{source}/{id}/{tail}` (source in kw)."""
        source = kw.pop("source", "Sentinel")
        path = f"/workspaces/{workspace_id}/incidents/{source}/{incident_id}/{tail}"
        return self.http.request(method, path, **kw)

    def set_status(self, workspace_id: str, incident_id: str, **body: Any) -> httpx.Response:
        """PUT .../{source}/{id}/status."""
        return self.sub("PUT", workspace_id, incident_id, "status", json=body)

    def across(self, **body: Any) -> httpx.Response:
        """POST /incidents/across-workspaces."""
        return self.http.post("/incidents/across-workspaces", json=body)

    def bulk_update(self, items: list[dict[str, Any]]) -> httpx.Response:
        """POST /incidents/across-workspaces/bulk-update."""
        return self.http.post("/incidents/across-workspaces/bulk-update", json={"items": items})


class PartnerClient:
    """A beta partner-API client: `x-api-key`, `tenantId` on every tenant route."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx.Client(
            base_url=f"{base_url}/api/beta/partners", headers={"x-api-key": api_key}, timeout=30
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()

    def incidents(self, tenant_id: str, **body: Any) -> httpx.Response:
        """POST /incidents?tenantId=."""
        return self.http.post("/incidents", params={"tenantId": tenant_id}, json=body)

    def all_incidents(self, **body: Any) -> httpx.Response:
        """POST /incidents/all."""
        return self.http.post("/incidents/all", json=body)

    def incident_part(self, tenant_id: str, incident_id: str, part: str) -> httpx.Response:
        """GET /incidents/{id}/{details|entities|evidence}?tenantId=."""
        return self.http.get(f"/incidents/{incident_id}/{part}", params={"tenantId": tenant_id})
