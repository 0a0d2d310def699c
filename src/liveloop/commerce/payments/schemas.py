"""API shapes of payments and refunds."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from liveloop.core.schemas import OutModel, StrictModel

ProviderName = Literal["demo", "wechatpay_jsapi", "wechatpay_h5"]


class PaymentCreate(StrictModel):
    provider: ProviderName = "demo"
    return_url: str = Field("", max_length=500)
    openid: str | None = Field(None, max_length=128)

    @field_validator("return_url")
    @classmethod
    def _local_or_http(cls, value: str) -> str:
        if value and not value.startswith(("/", "http://", "https://")):
            raise ValueError("return_url must be a path on this site or an http(s) URL")
        if value.startswith("//"):
            raise ValueError("return_url must not start with //")
        return value


class PaymentOut(OutModel):
    id: int
    order_id: int
    number: str
    provider: str
    status: str
    amount_fen: int
    refunded_fen: int
    transaction_id: str
    prepay: dict[str, Any]
    paid_at: dt.datetime | None
    created_at: dt.datetime


class NotificationOut(OutModel):
    id: int
    provider: str
    status: str
    error_code: str
    error_message: str
    out_trade_no: str
    amount_fen: int | None
    payment_id: int | None
    received_at: dt.datetime
    processed_at: dt.datetime | None
    attempts: int


class RefundLineBody(StrictModel):
    order_line_id: int = Field(ge=1)
    quantity: int = Field(ge=1, le=100_000)


class RefundCreate(StrictModel):
    """Lines with quantities, or an amount, or neither for everything that is left."""

    lines: list[RefundLineBody] | None = Field(None, max_length=200)
    amount_fen: int | None = Field(None, ge=1)
    reason: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _one_way(self) -> RefundCreate:
        if self.lines and self.amount_fen is not None:
            raise ValueError("give either lines or amount_fen, not both")
        return self


class RefundReject(StrictModel):
    reason: str = Field(min_length=1, max_length=200)


class RefundLineOut(OutModel):
    order_line_id: int
    sku_id: int | None
    quantity: int
    amount_fen: int


class RefundOut(OutModel):
    id: int
    order_id: int
    payment_id: int
    number: str
    amount_fen: int
    reason: str
    status: str
    requested_by: str
    restock: bool
    decided_by: str
    decided_at: dt.datetime | None
    reject_reason: str
    provider_refund_id: str
    last_error: str
    completed_at: dt.datetime | None
    created_at: dt.datetime
    lines: list[RefundLineOut]


class WeChatPayAccountBody(StrictModel):
    mchid: str = Field(min_length=1, max_length=32)
    appid: str = Field(min_length=1, max_length=32)
    serial_no: str = Field(min_length=1, max_length=64)
    platform_serial: str = Field(min_length=1, max_length=64)
    private_key_pem: str = Field(min_length=1, max_length=10_000)
    api_v3_key: str = Field(min_length=1, max_length=64)
    platform_public_key_pem: str = Field(min_length=1, max_length=10_000)
    api_base: str = Field("", max_length=200, pattern=r"^(https?://[^\s]+)?$")
    enabled: bool = True
