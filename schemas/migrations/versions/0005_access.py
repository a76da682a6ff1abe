"""API key management and rate limits

Revision ID: 0005_access
Revises: 0004_webhooks
Create Date: 2026-11-25 15:40:00

Per-key rate limit override, rotation time, and the previous secret's hash with the
end of its grace period (a rotated key's old secret may keep working briefly).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_access"
down_revision: str | None = "0004_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("previous_key_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_api_keys_previous_key_hash"), ["previous_key_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_previous_key_hash"))
        batch_op.drop_column("previous_valid_until")
        batch_op.drop_column("previous_key_hash")
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("rate_limit_per_minute")
