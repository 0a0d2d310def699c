from pathlib import Path

import pytest

from liveloop.core.settings import ConfigurationError, Settings, load_settings


def test_defaults_need_nothing_installed(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'liveloop.db'}"
    assert settings.bus_backend == "memory"
    assert settings.queue_backend == "sqlite"


def test_secret_key_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    key = settings.resolved_secret_key()
    path = tmp_path / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert Settings(var_dir=tmp_path).resolved_secret_key() == key
    assert len(key) > 40


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("LIVELOOP_DATABASE_URL", "mysql://x", "LIVELOOP_DATABASE_URL"),
        ("LIVELOOP_BUS_BACKEND", "kafka", "LIVELOOP_BUS_BACKEND"),
        ("LIVELOOP_PORT", "ninety", "LIVELOOP_PORT"),
        ("LIVELOOP_REDIS_URL", "http://localhost", "LIVELOOP_REDIS_URL"),
    ],
)
def test_wrong_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_redis_backend_without_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVELOOP_QUEUE_BACKEND", "redis")
    monkeypatch.delenv("LIVELOOP_REDIS_URL", raising=False)
    with pytest.raises(ConfigurationError, match="LIVELOOP_REDIS_URL"):
        load_settings()


def test_plain_postgres_url_uses_asyncpg() -> None:
    assert (
        Settings(database_url="postgresql://u@h/db").database_url == "postgresql+asyncpg://u@h/db"
    )
