"""QR codes (PNG and SVG) of links: channel code landing pages, community join links."""

from __future__ import annotations

import io

import segno

KINDS = {"png": "image/png", "svg": "image/svg+xml"}


def qr_image(data: str, kind: str, *, scale: int = 8) -> bytes:
    """The QR code of `data` as PNG or SVG bytes (error correction M, quiet zone of 2)."""
    if kind not in KINDS:
        raise ValueError(f"unknown QR image kind {kind!r}")
    code = segno.make(data, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind=kind, scale=scale, border=2)
    return buffer.getvalue()
