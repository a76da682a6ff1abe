"""record lifecycle, versions, validity, dossiers and reuse links

Revision ID: 0003_lifecycle
Revises: 0002_audit_chain
Create Date: 2026-11-25 15:40:00

Records get a version, their validity and the digitising agency; every version is
kept in record_versions; dossiers and the records linked to them feed the KPIs.
Existing records keep their state names mapped onto the lifecycle (ready ->
published: they were already served to other systems).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_lifecycle"
down_revision: str | None = "0002_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duplicate_of", sa.String(length=32), nullable=True))
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("validity", sa.String(length=16), nullable=False, server_default="unknown")
        )
        batch_op.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("valid_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("agency_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("identity_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_records_agency_code"), ["agency_code"])
        batch_op.create_index(batch_op.f("ix_records_identity_key"), ["identity_key"])
    op.execute("UPDATE records SET status = 'published' WHERE status = 'ready'")
    # The served JSON carries the state too: move it along (the signed copies in storage
    # keep what was signed).
    records = sa.table("records", sa.column("id", sa.Integer()), sa.column("body", sa.JSON()))
    conn = op.get_bind()
    for rid, body in conn.execute(sa.select(records.c.id, records.c.body)).all():
        if isinstance(body, dict) and body.get("status") == "ready":
            conn.execute(
                records.update()
                .where(records.c.id == rid)
                .values(body={**body, "status": "published"})
            )
    op.create_table(
        "record_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("record_code", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("artifacts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("record_code", "version"),
    )
    op.create_index("ix_record_versions_record_code", "record_versions", ["record_code"])
    op.create_table(
        "dossiers",
        sa.Column("code", sa.String(length=64), primary_key=True),
        sa.Column("agency_code", sa.String(length=32), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dossiers_agency_code", "dossiers", ["agency_code"])
    op.create_index("ix_dossiers_received_on", "dossiers", ["received_on"])
    op.create_table(
        "dossier_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dossier_code", sa.String(length=64), sa.ForeignKey("dossiers.code"), nullable=False
        ),
        sa.Column("record_code", sa.String(length=200), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dossier_code", "record_code"),
    )
    op.create_index("ix_dossier_records_dossier_code", "dossier_records", ["dossier_code"])
    op.create_index("ix_dossier_records_record_code", "dossier_records", ["record_code"])


def downgrade() -> None:
    op.drop_table("dossier_records")
    op.drop_table("dossiers")
    op.drop_table("record_versions")
    op.execute("UPDATE records SET status = 'ready' WHERE status IN ('published', 'digitised')")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_records_identity_key"))
        batch_op.drop_index(batch_op.f("ix_records_agency_code"))
        for col in ("updated_at", "identity_key", "agency_code", "valid_until", "valid_from"):
            batch_op.drop_column(col)
        batch_op.drop_column("validity")
        batch_op.drop_column("version")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("duplicate_of")
