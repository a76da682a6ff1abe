"""audit entries get their place in the chain when sealed (seq)

Revision ID: 0008_audit_seq
Revises: 0007_monitoring
Create Date: 2026-11-27 09:00:00

The API's hot reads insert audit entries without taking the chain's lock; a sealer
chains them shortly after (schemas/audit.py). The chain order is therefore `seq`,
given at sealing, and no longer the id. Every existing entry was chained in id
order, so its seq is its id.

On PostgreSQL the sealing itself is a function, `audit_seal`, so that an API
process spends no Python time on it: it builds the same canonical JSON as
`schemas.audit.entry_digest` (keys sorted, no spaces, UTF-8, JSON escapes) and
hashes it with the server's sha256(). tests/api/test_audit.py checks that both
give the same hashes on awkward content.
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
    upgrade_functions()


#: Any fixed 64-bit number: the key of the advisory lock on the chain (the key 0002 used).
PG_LOCK_KEY = 0x50_48_4F_41_55_44_49_54


def _json(column: str) -> str:
    return f"coalesce(to_json(e.{column})::text, 'null')"


SEAL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_seal(max_rows integer, wait boolean) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    head bigint;
    prev text;
    canonical text;
    e record;
    ids bigint[] := '{{}}';
    seqs bigint[] := '{{}}';
    prevs text[] := '{{}}';
    hashes text[] := '{{}}';
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock({PG_LOCK_KEY});
    ELSIF NOT pg_try_advisory_xact_lock({PG_LOCK_KEY}) THEN
        RETURN 0;
    END IF;
    SELECT seq, entry_hash INTO head, prev
        FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    head := coalesce(head, 0);
    prev := coalesce(prev, repeat('0', 64));
    FOR e IN SELECT * FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT max_rows LOOP
        canonical := '{{"action":' || {_json("action")}
            || ',"actor":' || {_json("actor")}
            || ',"agency_code":' || {_json("agency_code")}
            || ',"at":' || to_json(to_char(e.at AT TIME ZONE 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
            || ',"detail":' || {_json("detail")}
            || ',"dossier_code":' || {_json("dossier_code")}
            || ',"id":' || e.id::text
            || ',"personal_id":' || {_json("personal_id")}
            || ',"prev_hash":' || to_json(prev)::text
            || ',"purpose":' || {_json("purpose")}
            || ',"record_code":' || {_json("record_code")}
            || '}}';
        head := head + 1;
        ids := ids || e.id;
        seqs := seqs || head;
        prevs := prevs || prev;
        prev := encode(sha256(convert_to(canonical, 'UTF8')), 'hex');
        hashes := hashes || prev;
    END LOOP;
    -- One UPDATE for the batch: far less work than one statement per entry.
    UPDATE audit_log AS a
        SET seq = c.seq, prev_hash = c.prev_hash, entry_hash = c.entry_hash
        FROM unnest(ids, seqs, prevs, hashes) AS c(id, seq, prev_hash, entry_hash)
        WHERE a.id = c.id;
    RETURN cardinality(ids);
END
$fn$
"""


def upgrade_functions() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEAL_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_seal(integer, boolean)")
    op.drop_index("ix_audit_log_pending", table_name="audit_log")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_log_seq", type_="unique")
        batch_op.drop_column("seq")
