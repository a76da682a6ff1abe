"""record lifecycle, versions, validity, dossiers and reuse links

Revision ID: 0003_lifecycle
Revises: 0002_audit_chain
Create Date: 2026-11-25 15:40:00
"""

from collections.abc import Sequence

revision: str = "0003_lifecycle"
down_revision: str | None = "0002_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
