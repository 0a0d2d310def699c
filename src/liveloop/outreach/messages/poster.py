"""Live posters: a PNG per session and recipient with the cover, title, start time and the QR
code of the recipient's own entry link (so a scan is attributed to the message that carried it).

Chinese text needs a font with its glyphs (the first `fc-list :lang=zh` names, as the fission
posters); without one the poster keeps the cover, the QR code and the time, and leaves the
title out rather than draw boxes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from liveloop.customers.channel_codes.qr import qr_image
from liveloop.customers.fission.poster import cjk_font_path, font_at

WIDTH, HEIGHT = 600, 900
COVER_HEIGHT = 340
QR_SIZE = 260
ACCENT = "#e4393c"


@dataclass(frozen=True)
class LivePoster:
    title: str
    starts_at: str  # already in shop time, e.g. "12-08 20:00"
    link: str  # what the QR code holds
    shop_name: str = ""
    anchor: str = ""
    cover: Path | None = None  # a file in the media directory


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return font_at(cjk_font_path(), size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> list[str]:
    lines, line = [], ""
    for char in text:
        trial = line + char
        if draw.textlength(trial, font=font) > width and line:  # type: ignore[arg-type]
            lines.append(line)
            line = char
        else:
            line = trial
    return [*lines, line] if line else lines


def _cover(path: Path | None) -> Image.Image | None:
    if path is None or not path.is_file():
        return None
    try:
        with Image.open(path) as source:
            image = source.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None
    scale = max(WIDTH / image.width, COVER_HEIGHT / image.height)
    image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    left, top = (image.width - WIDTH) // 2, (image.height - COVER_HEIGHT) // 2
    return image.crop((left, top, left + WIDTH, top + COVER_HEIGHT))


def poster_png(poster: LivePoster) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "#ffffff")
    draw = ImageDraw.Draw(image)
    cover = _cover(poster.cover)
    if cover is not None:
        image.paste(cover, (0, 0))
    else:
        draw.rectangle((0, 0, WIDTH, COVER_HEIGHT), fill=ACCENT)
    draw.rectangle((24, COVER_HEIGHT - 44, 150, COVER_HEIGHT - 12), fill=ACCENT)
    has_cjk = cjk_font_path() is not None
    draw.text((36, COVER_HEIGHT - 42), "LIVE", font=ImageFont.load_default(size=24), fill="#fff")
    y = COVER_HEIGHT + 24
    if has_cjk:
        for line in _wrap(draw, poster.title, _font(34), WIDTH - 64)[:2]:
            draw.text((32, y), line, font=_font(34), fill="#222222")
            y += 46
        subtitle = " · ".join(x for x in (poster.anchor, poster.shop_name) if x)
        if subtitle:
            draw.text((32, y), subtitle[:30], font=_font(22), fill="#666666")
            y += 34
    draw.text((32, y + 4), poster.starts_at, font=_font(30), fill=ACCENT)
    with Image.open(io.BytesIO(qr_image(poster.link, "png", scale=6))) as qr:
        code = qr.convert("RGB").resize((QR_SIZE, QR_SIZE), Image.Resampling.NEAREST)
    image.paste(code, ((WIDTH - QR_SIZE) // 2, HEIGHT - QR_SIZE - 70))
    caption = "长按识别二维码 进入直播间" if has_cjk else "Scan to enter the live room"
    box = draw.textbbox((0, 0), caption, font=_font(22))
    draw.text(((WIDTH - (box[2] - box[0])) // 2, HEIGHT - 56), caption, font=_font(22), fill="#555")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
