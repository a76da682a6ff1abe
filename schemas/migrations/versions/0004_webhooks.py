"""webhook subscriptions and deliveries

Revision ID: 0004_webhooks
Revises: 0003_lifecycle
Create Date: 2026-11-25 15:40:00
"""

from collections.abc import Sequence

revision: str = "0004_webhooks"
down_revision: str | None = "0003_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
