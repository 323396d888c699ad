"""`/api/v1` routes for webhooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["webhooks"])
