"""Static files: our own assets, the npm front-end libraries (served locally), and media."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from liveloop.core.settings import Settings

WEB_DIR = Path(__file__).parent
PROJECT_ROOT = WEB_DIR.parents[2]

# What each page may load, from node_modules after `npm ci` (no CDN, nothing vendored in git).
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "alpine.min.js": "alpinejs/dist/cdn.min.js",
    "echarts.min.js": "echarts/dist/echarts.min.js",
    "hls.min.js": "hls.js/dist/hls.min.js",
}


def node_modules_dir() -> Path:
    return PROJECT_ROOT / "node_modules"


def mount_static(app: FastAPI, settings: Settings) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    vendor = settings.var_dir / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    for name, source in VENDOR_FILES.items():
        target, origin = vendor / name, node_modules_dir() / source
        if origin.exists() and not target.exists():
            target.symlink_to(origin.resolve())
    app.mount("/vendor", StaticFiles(directory=vendor, follow_symlink=True), name="vendor")
    media = settings.resolved_media_dir
    media.mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=media), name="media")
