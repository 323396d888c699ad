"""`/api/v1` routes for sla."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["sla"])
