"""Lotteries may leave the shop's staff out of the draw.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 03:11:55
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows made before this take the default: leave the staff out.
    with op.batch_alter_table("live_lotteries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("exclude_staff", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("live_lotteries", schema=None) as batch_op:
        batch_op.drop_column("exclude_staff")
