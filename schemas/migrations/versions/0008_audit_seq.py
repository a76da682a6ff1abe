"""audit entries get their place in the chain when sealed (seq)

Revision ID: 0008_audit_seq
Revises: 0007_monitoring
Create Date: 2026-11-27 09:00:00

The API's hot reads insert audit entries without taking the chain's lock; a sealer
chains them shortly after (schemas/audit.py). The chain order is therefore `seq`,
given at sealing, and no longer the id. Every existing entry was chained in id
order, so its seq is its id.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_audit_seq"
down_revision: str | None = "0007_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute("UPDATE audit_log SET seq = id WHERE entry_hash IS NOT NULL")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_audit_log_seq", ["seq"])
    # Finds the pending entries (seq IS NULL) without a scan of the whole log.
    op.create_index(
        "ix_audit_log_pending",
        "audit_log",
        ["id"],
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_pending", table_name="audit_log")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_log_seq", type_="unique")
        batch_op.drop_column("seq")
