"""LiveLoop configuration: environment variables with the prefix LIVELOOP_."""

from __future__ import annotations

import os
import secrets
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """A setting is wrong; the message is one line and names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVELOOP_", extra="ignore")

    var_dir: Path = Field(
        Path("var"), description="Where the SQLite files, media and secret key live."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL; default sqlite+aiosqlite:///<var_dir>/liveloop.db"
    )
    redis_url: str = Field("", description="redis://host:port/db; needed by the redis backends.")
    bus_backend: Literal["memory", "redis"] = Field(
        "memory", description="Live fan-out: in-process (one process) or Redis pub/sub."
    )
    queue_backend: Literal["sqlite", "redis", "immediate"] = Field(
        "sqlite", description="Background jobs: Huey on SQLite, on Redis, or run inline (tests)."
    )
    embedded_worker: bool = Field(
        True, description="Run the job consumer inside `liveloop run` (embedded default)."
    )
    secret_key: str = Field(
        "", description="Signs cookies and tokens; generated into var/ if empty."
    )
    pii_key: str = Field(
        "",
        description="Base64 32-byte key for phone/e-mail encryption; derived from secret if empty.",
    )
    media_dir: Path | None = Field(None, description="Product images; default <var_dir>/media.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    base_url: str = Field("", description="Public URL of the site; default http://host:port.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = Field(False, description="JSON log lines instead of the console renderer.")
    default_language: Literal["zh_CN", "en"] = "zh_CN"
    default_timezone: str = "Asia/Shanghai"
    cookie_secure: bool = Field(False, description="Mark the session cookie Secure (behind HTTPS).")
    session_max_age: int = Field(14 * 24 * 3600, ge=60, description="Console session lifetime, s.")
    web_concurrency: int = Field(
        1, ge=1, description="Uvicorn worker processes for `liveloop web`."
    )
    db_pool_size: int = Field(10, ge=1)
    order_payment_minutes: int = Field(
        15, ge=1, le=1440, description="An unpaid order expires after this many minutes."
    )
    demo_audience: int = Field(
        40,
        ge=0,
        le=2000,
        description="Simulated viewers `liveloop run` sends into the demo's live room; 0 = off.",
    )
    sms_provider: Literal["demo", "log"] = Field(
        "demo",
        description="Text messages (phone codes): 'demo' keeps them in the process and shows "
        "the code on the page; 'log' writes them to the log. Real carriers: see docs/orders.md.",
    )
    sql_echo: bool = False

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value:
            return value
        scheme = urlsplit(value).scheme
        if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg", "postgresql", "postgres"}:
            raise ValueError(
                f"unsupported scheme {scheme!r}; use sqlite+aiosqlite:///path or postgresql+asyncpg://"
            )
        if scheme in {"postgresql", "postgres"}:
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _check_backends(self) -> Settings:
        if "redis" in (self.bus_backend, self.queue_backend) and not self.redis_url:
            raise ValueError("LIVELOOP_REDIS_URL is required when a backend is 'redis'")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.var_dir / 'liveloop.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_media_dir(self) -> Path:
        return self.media_dir or self.var_dir / "media"

    @property
    def public_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_secret_key(self) -> str:
        """The configured key, or the one generated on first run into var/secret_key (0600)."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key


def load_settings() -> Settings:
    """Read the environment; a wrong value raises ConfigurationError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or ""
        variable = f"LIVELOOP_{field.upper()}" if field else "LIVELOOP_*"
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigurationError(f"{variable}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def get_settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        print(f"liveloop: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
