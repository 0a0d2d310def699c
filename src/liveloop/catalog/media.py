"""Product image files: recognising the format by its bytes, storing and removing files."""

from __future__ import annotations

import secrets
from pathlib import Path

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES_PER_PRODUCT = 20


def sniff_image_type(content: bytes) -> tuple[str, str] | None:
    """(content type, extension) read from the magic bytes; None if not png/jpeg/webp/gif.

    The client's file name and content type are ignored: they are whatever the client says.
    """
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", "gif"
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def store_image_file(media_dir: Path, *, shop_id: int, content: bytes, extension: str) -> str:
    """Write the file under a random name; return its path relative to the media directory."""
    folder = media_dir / f"shop{shop_id}"
    folder.mkdir(parents=True, exist_ok=True)
    relative = f"shop{shop_id}/{secrets.token_hex(16)}.{extension}"
    (media_dir / relative).write_bytes(content)
    return relative


def remove_image_files(media_dir: Path, relative_paths: list[str]) -> None:
    root = media_dir.resolve()
    for relative in relative_paths:
        path = (media_dir / relative).resolve()
        if path.is_relative_to(root):  # never follow a path out of the media directory
            path.unlink(missing_ok=True)
