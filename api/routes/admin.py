"""Administration: API keys (scope admin)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["admin"])
