"""Broadcast click links are signed recipient ids: the stored random token becomes optional

Links sent before this migration keep working through the stored token, which stays unique
among the rows that have one (a partial index: new rows add no index entry).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "outreach_broadcast_recipients"
WHERE = "click_token IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint("uq_outreach_broadcast_recipients_click_token", type_="unique")
        batch_op.alter_column("click_token", existing_type=sa.String(length=24), nullable=True)
        batch_op.create_index(
            "uq_bc_recipients_click_token",
            ["click_token"],
            unique=True,
            sqlite_where=sa.text(WHERE),
            postgresql_where=sa.text(WHERE),
        )


def downgrade() -> None:
    # Rows written since carry no stored token: give each one before the column is required.
    op.execute(
        sa.text(
            f"UPDATE {TABLE} SET click_token = 'r' || CAST(id AS VARCHAR(23)) "
            "WHERE click_token IS NULL"
        )
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("uq_bc_recipients_click_token")
        batch_op.alter_column("click_token", existing_type=sa.String(length=24), nullable=False)
        batch_op.create_unique_constraint(
            "uq_outreach_broadcast_recipients_click_token", ["click_token"]
        )
