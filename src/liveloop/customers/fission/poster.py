"""Invite posters: the participant's QR code (segno) on the campaign's cover colour.

Two forms. The SVG carries every text, Chinese included, and the viewer's browser renders it with
its own fonts. The PNG is drawn here with Pillow and needs a font with Chinese glyphs for the
campaign's text: the first font `fc-list :lang=zh` names. A server without one (as a bare
container) draws a PNG with only the QR code and ASCII text (invite code, "Scan to join"), so
it never shows tofu boxes; the landing page offers the SVG for sharing.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass
from xml.sax.saxutils import escape

import segno
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 600, 900
QR_SIZE = 320


@dataclass(frozen=True)
class PosterText:
    headline: str  # e.g. 邀请 3 位好友，得 20 元券
    subtitle: str
    reward: str
    inviter: str  # masked: 张**
    code: str
    link: str  # the full invite URL the QR code holds
    color: str = "#c0392b"


@functools.cache
def cjk_font_path() -> str | None:
    """A font file with Chinese glyphs on this machine, or None."""
    if shutil.which("fc-list") is None:
        return None
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in listed.splitlines() if line.strip())
    return files[0] if files else None


@functools.cache
def _latin_font_path() -> str | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "sans:bold"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return found or None


def font_at(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font file at `path` in `size`, else Pillow's default (also used by live posters)."""
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def _qr_image(link: str, size: int) -> Image.Image:
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=10, border=2)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB").resize((size, size), Image.Resampling.NEAREST)


def _centered(draw: ImageDraw.ImageDraw, y: int, text: str, font: object, fill: str) -> None:
    box = draw.textbbox((0, 0), text, font=font)  # type: ignore[arg-type]
    draw.text(((WIDTH - (box[2] - box[0])) // 2, y), text, font=font, fill=fill)  # type: ignore[arg-type]


def poster_png(text: PosterText) -> bytes:
    cjk = cjk_font_path()
    image = Image.new("RGB", (WIDTH, HEIGHT), text.color)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((40, 200, WIDTH - 40, HEIGHT - 60), radius=24, fill="#ffffff")
    if cjk:
        _centered(draw, 70, text.headline[:18], font_at(cjk, 40), "#ffffff")
        _centered(draw, 130, text.subtitle[:24], font_at(cjk, 24), "#ffffff")
        _centered(draw, 240, text.reward[:20], font_at(cjk, 30), text.color)
        _centered(draw, 740, f"{text.inviter} 邀请你 · 长按识别二维码", font_at(cjk, 22), "#555555")
    else:
        latin = _latin_font_path()
        _centered(draw, 90, "SCAN TO JOIN", font_at(latin, 44), "#ffffff")
        _centered(draw, 240, "INVITATION", font_at(latin, 30), text.color)
        _centered(draw, 740, f"code {text.code}", font_at(latin, 24), "#555555")
    image.paste(_qr_image(text.link, QR_SIZE), ((WIDTH - QR_SIZE) // 2, 320))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def poster_svg(text: PosterText) -> str:
    qr = segno.make(text.link, error="m")
    modules = qr.symbol_size(scale=1, border=2)[0]
    scale = QR_SIZE / modules
    qr_svg = qr.svg_inline(scale=scale, border=2, dark="#000000", light="#ffffff")
    x = (WIDTH - QR_SIZE) // 2
    fonts = "font-family=\"'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif\""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" {fonts}>'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{escape(text.color)}"/>'
        f'<text x="300" y="110" font-size="40" font-weight="bold" fill="#fff" '
        f'text-anchor="middle">{escape(text.headline[:30])}</text>'
        f'<text x="300" y="160" font-size="24" fill="#fff" text-anchor="middle">'
        f"{escape(text.subtitle[:40])}</text>"
        f'<rect x="40" y="200" width="{WIDTH - 80}" height="{HEIGHT - 260}" rx="24" fill="#fff"/>'
        f'<text x="300" y="270" font-size="30" font-weight="bold" fill="{escape(text.color)}" '
        f'text-anchor="middle">{escape(text.reward[:30])}</text>'
        f'<g transform="translate({x},320)">{qr_svg}</g>'
        f'<text x="300" y="700" font-size="22" fill="#555" text-anchor="middle">'
        f"{escape(text.inviter)} 邀请你 · 长按识别二维码</text>"
        f'<text x="300" y="740" font-size="18" fill="#999" text-anchor="middle">'
        f"{escape(text.code)}</text>"
        "</svg>"
    )
