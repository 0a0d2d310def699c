"""promotions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:44:31.124965
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_off_fen", sa.BigInteger(), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=False),
        sa.Column("max_discount_fen", sa.BigInteger(), nullable=True),
        sa.Column("threshold_fen", sa.BigInteger(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column(
            "product_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "category_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("valid_from", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("total_quantity", sa.Integer(), nullable=False),
        sa.Column("claimed_count", sa.Integer(), nullable=False),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("per_customer_limit", sa.Integer(), nullable=False),
        sa.Column("return_on_refund", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "claimed_count <= total_quantity", name=op.f("ck_coupons_claimed_within_total")
        ),
        sa.CheckConstraint("claimed_count >= 0", name=op.f("ck_coupons_claimed_not_negative")),
        sa.CheckConstraint("per_customer_limit >= 1", name=op.f("ck_coupons_limit_positive")),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_coupons_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coupons_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index("ix_coupons_shop_status", ["shop_id", "status", "id"], unique=False)
    op.create_table(
        "customer_coupons",
        sa.Column(
            "coupon_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("claim_seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("valid_from", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("claimed_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("returned_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["coupons.id"],
            name=op.f("fk_customer_coupons_coupon_id_coupons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_coupons_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_customer_coupons_live_session_id_live_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_customer_coupons_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_coupons")),
        sa.UniqueConstraint(
            "coupon_id",
            "customer_id",
            "claim_seq",
            name=op.f("uq_customer_coupons_coupon_id_customer_id_claim_seq"),
        ),
    )
    with op.batch_alter_table("customer_coupons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_coupons_coupon_id"), ["coupon_id"], unique=False
        )
        batch_op.create_index(
            "ix_customer_coupons_customer", ["shop_id", "customer_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_coupons_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_coupons_shop_id"), ["shop_id"], unique=False)
    op.create_table(
        "flash_sales",
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("original_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("sold_count", sa.Integer(), nullable=False),
        sa.Column("per_customer_limit", sa.Integer(), nullable=False),
        sa.Column("starts_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("returned_quantity", sa.Integer(), nullable=False),
        sa.Column("finished_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("per_customer_limit >= 1", name=op.f("ck_flash_sales_limit_positive")),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_flash_sales_quantity_positive")),
        sa.CheckConstraint(
            "sold_count <= quantity", name=op.f("ck_flash_sales_sold_within_quantity")
        ),
        sa.CheckConstraint("sold_count >= 0", name=op.f("ck_flash_sales_sold_not_negative")),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_flash_sales_live_session_id_live_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_flash_sales_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_flash_sales_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_flash_sales_sku_id_skus"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
    )
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flash_sales_live_session_id"), ["live_session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flash_sales_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_flash_sales_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(
            "ix_flash_sales_shop_status", ["shop_id", "status", "id"], unique=False
        )
    op.create_table(
        "flash_buyers",
        sa.Column(
            "flash_sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_flash_buyers_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_flash_buyers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flash_sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_buyers_flash_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_flash_buyers_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flash_sale_id", "customer_id", name=op.f("pk_flash_buyers")),
    )
    with op.batch_alter_table("flash_buyers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flash_buyers_shop_id"), ["shop_id"], unique=False)
    op.create_table(
        "flash_reservations",
        sa.Column(
            "flash_sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_flash_reservations_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flash_sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_reservations_flash_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_flash_reservations_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_reservations")),
        sa.UniqueConstraint("order_id", name=op.f("uq_flash_reservations_order_id")),
        sa.UniqueConstraint("token", name=op.f("uq_flash_reservations_token")),
    )
    with op.batch_alter_table("flash_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flash_reservations_flash_sale_id"), ["flash_sale_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_flash_reservations_shop_id"), ["shop_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("flash_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_reservations_shop_id"))
        batch_op.drop_index(batch_op.f("ix_flash_reservations_flash_sale_id"))
    op.drop_table("flash_reservations")
    with op.batch_alter_table("flash_buyers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_buyers_shop_id"))
    op.drop_table("flash_buyers")
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_index("ix_flash_sales_shop_status")
        batch_op.drop_index(batch_op.f("ix_flash_sales_shop_id"))
        batch_op.drop_index(batch_op.f("ix_flash_sales_product_id"))
        batch_op.drop_index(batch_op.f("ix_flash_sales_live_session_id"))
    op.drop_table("flash_sales")
    with op.batch_alter_table("customer_coupons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_coupons_shop_id"))
        batch_op.drop_index(batch_op.f("ix_customer_coupons_order_id"))
        batch_op.drop_index("ix_customer_coupons_customer")
        batch_op.drop_index(batch_op.f("ix_customer_coupons_coupon_id"))
    op.drop_table("customer_coupons")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_index("ix_coupons_shop_status")
        batch_op.drop_index(batch_op.f("ix_coupons_shop_id"))
    op.drop_table("coupons")
