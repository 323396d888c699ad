"""`/metrics`: Prometheus exposition of this process's counters and the database's gauges.

Open by default (it shows counts, never tenant data or names); with `metrics_token` set it
requires `Authorization: Bearer <token>` (docs/observability.md).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder

from muster.api.deps import Services, bearer, services
from muster.errors import Unauthenticated
from muster.gauges import scrape_registry

router = APIRouter(tags=["service"])


def _scraper(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Services:
    """The app's services, once the caller showed the metrics token (when one is set)."""
    svc = services(request)
    token = svc.settings.metrics_token
    if token is None:
        return svc
    sent = credentials.credentials.strip() if credentials is not None else ""
    if not hmac.compare_digest(sent.encode(), token.get_secret_value().encode()):
        raise Unauthenticated("send the metrics token: Authorization: Bearer <metrics_token>")
    return svc


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}},
    # the bearer token is optional (only with `metrics_token` set): FastAPI appends this
    # anonymous alternative `{}` to the route's `[{"HTTPBearer": []}]`
    openapi_extra={"security": [{}]},
)
def metrics(request: Request, svc: Annotated[Services, Depends(_scraper)]) -> Response:
    # the text format, or OpenMetrics when the scraper's Accept asks for it
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(scrape_registry(svc.db, svc.clock)), media_type=content_type)
