"""A big session's rollups are rebuilt by a background job: when one was queued.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 00:08:14.332444
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import liveloop.core.database

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("live_rollup_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "rebuild_queued_at",
                liveloop.core.database.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("live_rollup_states", schema=None) as batch_op:
        batch_op.drop_column("rebuild_queued_at")
