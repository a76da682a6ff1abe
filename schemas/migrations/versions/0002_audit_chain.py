"""audit log: agency, purpose, dossier and a hash chain

Revision ID: 0002_audit_chain
Revises: 0001
Create Date: 2026-11-25 14:00:00

Existing entries are chained in id order, so `sohoa audit verify` holds from the start.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_audit_chain"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("purpose", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("dossier_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_audit_log_dossier_code"), ["dossier_code"], unique=False
        )
    _chain_existing_entries()


def _chain_existing_entries() -> None:
    from schemas.audit import GENESIS, HASHED, entry_digest

    conn = op.get_bind()
    log = sa.table(
        "audit_log",
        *(sa.column(n, sa.DateTime(timezone=True)) if n == "at" else sa.column(n) for n in HASHED),
        sa.column("prev_hash"),
        sa.column("entry_hash"),
    )
    rows = conn.execute(sa.select(*(log.c[name] for name in HASHED)).order_by(log.c.id)).all()
    prev = GENESIS
    for row in rows:
        content = dict(row._mapping)
        digest = entry_digest(content, prev)
        conn.execute(
            log.update().where(log.c.id == content["id"]).values(prev_hash=prev, entry_hash=digest)
        )
        prev = digest


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_dossier_code"))
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("dossier_code")
        batch_op.drop_column("purpose")
        batch_op.drop_column("agency_code")
