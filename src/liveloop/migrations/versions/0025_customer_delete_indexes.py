"""Indexes for deleting customers: customers.merged_into_id, broadcast recipients' customer_id

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 13:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_customers_merged_into_id", "customers", ["merged_into_id"], unique=False)
    op.create_index(
        "ix_bc_recipients_customer", "outreach_broadcast_recipients", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_bc_recipients_customer", table_name="outreach_broadcast_recipients")
    op.drop_index("ix_customers_merged_into_id", table_name="customers")
