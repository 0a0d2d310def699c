"""The `liveloop` command on a fresh SQLite file: migrate, createadmin, then log in."""

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liveloop.cli import app
from liveloop.core.database import Database
from liveloop.core.settings import get_settings
from liveloop.shops import service as shops_service


@pytest.fixture
def fresh_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LIVELOOP_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("LIVELOOP_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_migrate_then_createadmin_gives_an_owner_who_can_log_in(fresh_var: Path) -> None:
    runner = CliRunner()
    migrated = runner.invoke(app, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    created = runner.invoke(
        app,
        [
            "createadmin",
            "--email",
            "Boss@Shop.cn",
            "--shop",
            "我的店",
            "--password",
            "long-enough-1",
        ],
    )
    assert created.exit_code == 0, created.output
    again = runner.invoke(
        app, ["createadmin", "--email", "boss@shop.cn", "--password", "long-enough-1"]
    )
    assert again.exit_code == 1
    assert "already exists" in again.output

    async def log_in() -> tuple[str, str]:
        database = Database(f"sqlite+aiosqlite:///{fresh_var / 'liveloop.db'}")
        try:
            async with database.unit_of_work() as session:
                staff = await shops_service.authenticate_staff(
                    session=session, email="boss@shop.cn", password="long-enough-1"
                )
                shop = await shops_service.get_shop(session=session, shop_id=staff.shop_id)
                return staff.role, shop.name
        finally:
            await database.dispose()

    assert asyncio.run(log_in()) == ("owner", "我的店")


def test_a_wrong_setting_stops_the_command_with_one_line(
    fresh_var: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVELOOP_QUEUE_BACKEND", "rabbit")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert "LIVELOOP_QUEUE_BACKEND" in result.output
