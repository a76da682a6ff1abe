"""API key management and rate limits

Revision ID: 0005_access
Revises: 0004_webhooks
Create Date: 2026-11-25 15:40:00
"""

from collections.abc import Sequence

revision: str = "0005_access"
down_revision: str | None = "0004_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
