"""Reuse: a citizen's reusable records, linking a record to a new dossier, and the KPIs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["reuse"])
