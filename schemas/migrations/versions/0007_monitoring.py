"""stage timings and worker heartbeats for the admin dashboard

Revision ID: 0007_monitoring
Revises: 0006_users
Create Date: 2026-11-26 11:00:00

Two new tables (schemas/monitoring.py), written by the workers themselves: nothing
existing changes, so the upgrade and downgrade are plain creates and drops.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_monitoring"
down_revision: str | None = "0006_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stage_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stage_runs", schema=None) as batch_op:
        batch_op.create_index("ix_stage_runs_stage_finished", ["stage", "finished_at"])
        batch_op.create_index(batch_op.f("ix_stage_runs_finished_at"), ["finished_at"])

    op.create_table(
        "worker_heartbeats",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_heartbeats_last_seen"), ["last_seen"])


def downgrade() -> None:
    op.drop_table("worker_heartbeats")
    op.drop_table("stage_runs")
