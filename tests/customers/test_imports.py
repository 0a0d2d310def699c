import asyncio
import datetime as dt
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from liveloop.core.errors import InvalidInput
from liveloop.customers import imports, service
from liveloop.customers.models import CustomerTag, Tag
from liveloop.customers.schemas import CustomerFilter
from liveloop.shops.models import AuditEntry
from tests import factories

HEADER = "姓名,手机号,邮箱,性别,生日,省份,城市,来源,标签,企微ID\n"


async def run(session, actor, text: str, *, encoding="utf-8", **options):
    return await imports.import_customers_csv(
        session=session, actor=actor, data=text.encode(encoding), **options
    )


async def by_phone(session, shop_id: int, phone: str):
    page = await service.search_customers(
        session=session, shop_id=shop_id, filters=CustomerFilter(phone=phone)
    )
    assert page.total == 1
    return page.items[0]


async def test_imports_profile_identities_and_tags(session, actor, shop) -> None:
    text = HEADER + (
        "张伟,13800000101,ZW@Example.com,男,1990-05-17,浙江,杭州,抖音,VIP;茶友，老客,wm1\n"
        "李娜,+86 139-0000-0102,,女,1988年3月2日,,上海,,,\n"
    )
    report = await run(session, actor, text)
    assert report.counts() == {"rows": 2, "created": 2, "updated": 0, "duplicates": 0, "failed": 0}
    zhang = await by_phone(session, shop.id, "13800000101")
    assert (zhang.display_name, zhang.gender, zhang.birthday) == (
        "张伟",
        "male",
        dt.date(1990, 5, 17),
    )
    assert (zhang.province, zhang.city, zhang.source_channel) == ("浙江", "杭州", "抖音")
    assert {(i.channel, i.display_value) for i in zhang.identities} == {
        ("phone", "138****0101"),
        ("email", "z*@example.com"),
        ("wecom", "wm1"),
    }
    assert sorted(link.tag.name for link in zhang.tag_links) == ["VIP", "老客", "茶友"]
    assert {link.source for link in zhang.tag_links} == {"import"}
    # Bulk-written rows read back like ORM-written ones (times, JSON) and filter the same way.
    assert zhang.consent == {}
    assert zhang.first_seen_at is not None and zhang.first_seen_at.tzinfo is not None
    assert abs(zhang.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    recent = await service.search_customers(
        session=session,
        shop_id=shop.id,
        filters=CustomerFilter(created_from=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)),
    )
    assert recent.total == 2
    li = await by_phone(session, shop.id, "13900000102")
    assert (li.birthday, li.source_channel) == (dt.date(1988, 3, 2), "import")
    audit = (
        await session.execute(
            select(AuditEntry).where(
                AuditEntry.shop_id == shop.id, AuditEntry.action == "customer.import"
            )
        )
    ).scalar_one()
    assert audit.details["created"] == 2


@pytest.mark.parametrize(
    ("encoding", "prefix"), [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b"")]
)
async def test_reads_utf8_with_or_without_bom_and_gbk(
    session, actor, shop, encoding, prefix
) -> None:
    text = "姓名,手机\n王小明,13800000201\n"
    report = await imports.import_customers_csv(
        session=session, actor=actor, data=prefix + text.encode(encoding)
    )
    assert report.failed == 0 and report.created == 1
    assert (await by_phone(session, shop.id, "13800000201")).display_name == "王小明"


async def test_explicit_wrong_encoding_is_refused_with_advice(session, actor) -> None:
    with pytest.raises(InvalidInput, match="save it as UTF-8 CSV"):
        await imports.import_customers_csv(
            session=session,
            actor=actor,
            data="姓名,手机\n王,13800000301\n".encode("gbk"),
            encoding="utf-8",
        )


async def test_bad_rows_are_reported_with_line_numbers_and_others_imported(
    session, actor, shop
) -> None:
    text = HEADER + (
        "好人,13800000401,,,,,,,,\n"
        "坏手机,1381234,,,,,,,,\n"
        "坏性别,13800000403,,妖,,,,,,\n"
        "坏生日,13800000404,,,1990-13-01,,,,,\n"
        ",,,,,,,,,\n"
        "无身份,,,,,,,,VIP,\n"
        "坏邮箱,13800000407,bad@,,,,,,,\n"
    )
    report = await run(session, actor, text)
    assert report.created == 1
    assert report.rows == 6  # the blank line is skipped, not counted
    assert [(e.line, e.field) for e in report.errors] == [
        (3, "phone"),
        (4, "gender"),
        (5, "birthday"),
        (7, None),
        (8, "email"),
    ]
    assert "phone 1381234 is not a mainland mobile number" in report.errors[0].message
    assert "no phone, e-mail or channel id" in report.errors[3].message
    # Nothing of a bad row was written: not its valid phone, not its tag.
    for phone in ("13800000403", "13800000404", "13800000407"):
        page = await service.search_customers(
            session=session, shop_id=shop.id, filters=CustomerFilter(phone=phone)
        )
        assert page.total == 0
    assert (await session.execute(select(Tag).where(Tag.shop_id == shop.id))).first() is None
    csv_text = imports.error_report_csv(report.errors)
    assert csv_text.startswith("\ufeffline,field,message")
    assert "3,phone," in csv_text


async def test_dedup_within_file_and_against_database(session, actor, shop) -> None:
    existing = await factories.make_customer(
        session, shop_id=shop.id, name="老名字", phone="13800000501", city="北京"
    )
    text = "name,phone,wecom,city,tags\n" + (
        "新名字,13800000501,,,A\n"  # existing customer: updated, not duplicated
        ",,wm_new,深圳,B\n"  # new customer
        "小新,,wm_new,,C\n"  # same as the previous row
        ",13800000501,wm_2,,\n"  # existing again, gains a wecom identity
    )
    report = await run(session, actor, text)
    assert (report.created, report.updated, report.duplicates, report.failed) == (1, 1, 2, 0)
    updated = await service.get_customer(session=session, shop_id=shop.id, customer_id=existing.id)
    assert (updated.display_name, updated.city) == ("新名字", "北京")  # empty cells do not erase
    assert {i.display_value for i in updated.identities} == {"138****0501", "wm_2"}
    assert [link.tag.name for link in updated.tag_links] == ["A"]
    page = await service.search_customers(
        session=session, shop_id=shop.id, filters=CustomerFilter(channel="wecom")
    )
    new = next(c for c in page.items if c.id != existing.id)
    assert (new.display_name, new.city) == ("小新", "深圳")
    assert sorted(link.tag.name for link in new.tag_links) == ["B", "C"]
    # Importing the same file again creates nobody.
    again = await run(session, actor, text)
    assert (again.created, again.updated, again.failed) == (0, 2, 0)


async def test_duplicates_across_chunks(session, actor, shop) -> None:
    text = "name,phone\n" + "甲,13800000601\n乙,13800000602\n丙,13800000601\n"
    report = await run(session, actor, text, chunk_size=1)
    assert (report.created, report.duplicates) == (2, 1)
    assert (await by_phone(session, shop.id, "13800000601")).display_name == "丙"


async def test_chunks_written_while_the_next_is_checked_keep_order(session, actor, shop) -> None:
    # Chunk n is written while chunk n + 1 is checked: errors still come in line order (check
    # errors of a chunk before its write errors) and progress is reported per written chunk.
    a = await factories.make_customer(session, shop_id=shop.id, phone="13800000651")
    b = await factories.make_customer(session, shop_id=shop.id, identities=[("wecom", "wm_c65")])
    text = "name,phone,wecom,birthday\n" + (
        "甲,13800000652,,\n"  # line 2
        "桥,13800000651,wm_c65,\n"  # line 3: two customers (found when written)
        "乙,12345,,\n"  # line 4: bad phone (found when checked)
        ",,,\n"  # line 5: blank
        "丙,13800000653,,1890-01-01\n"  # line 6: bad birthday
        "丁,13800000652,,\n"  # line 7: duplicate of line 2, another chunk
        "戊,13800000654,,\n"  # line 8
    )
    progress: list[int] = []
    report = await run(session, actor, text, chunk_size=2, on_progress=progress.append)
    assert [e.line for e in report.errors] == [3, 4, 6]
    assert report.counts() == {
        "rows": 6, "created": 2, "updated": 0, "duplicates": 1, "failed": 3
    }  # fmt: skip
    assert progress == [2, 4, 6, 7]
    assert f"customer {a.id}" in report.errors[0].message
    assert f"customer {b.id}" in report.errors[0].message


async def test_a_failed_chunk_write_stops_the_import(session, actor, monkeypatch) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(imports, "_write_chunk", broken)
    text = "name,phone\n" + "".join(f"甲,138000009{i:02d}\n" for i in range(10))
    with pytest.raises(RuntimeError, match="database went away"):
        await run(session, actor, text, chunk_size=3)


async def test_row_bridging_two_customers_is_refused(session, actor, shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id, phone="13800000701")
    b = await factories.make_customer(session, shop_id=shop.id, identities=[("wecom", "wm_b7")])
    text = "name,phone,wecom\n桥,13800000701,wm_b7\n"
    report = await run(session, actor, text)
    assert report.failed == 1
    assert f"customer {a.id}" in report.errors[0].message
    assert f"customer {b.id}" in report.errors[0].message
    assert report.errors[0].line == 2


async def test_mapping_and_unknown_columns(session, actor, shop) -> None:
    text = "客户昵称,mobile_no,会员等级\n小红,13800000801,金卡\n"
    with pytest.raises(InvalidInput, match="no column for phone, e-mail or a channel id"):
        await run(session, actor, text)
    report = await run(
        session, actor, text, mapping=imports.parse_mapping("客户昵称=display_name,mobile_no=phone")
    )
    assert report.created == 1
    assert report.ignored_columns == ["会员等级"]
    assert (await by_phone(session, shop.id, "13800000801")).display_name == "小红"


def test_parse_mapping_refuses_unknown_fields_and_bad_entries() -> None:
    assert imports.parse_mapping(" a = phone , b=tags") == {"a": "phone", "b": "tags"}
    with pytest.raises(InvalidInput, match="unknown field 'telephone'"):
        imports.parse_mapping("a=telephone")
    with pytest.raises(InvalidInput, match="should read column=field"):
        imports.parse_mapping("a")


async def test_mapping_naming_a_missing_column_is_refused(session, actor) -> None:
    with pytest.raises(InvalidInput, match="the file has no column 手机号码"):
        await run(session, actor, "phone\n13800000901\n", mapping={"手机号码": "phone"})


async def test_empty_file_is_refused(session, actor) -> None:
    with pytest.raises(InvalidInput, match="the file is empty"):
        await run(session, actor, "")


async def test_api_upload_returns_counts_and_errors(client, session, shop) -> None:
    content = "昵称,手机\n甲,13800001001\n乙,bad\n".encode("gbk")
    response = await client.post(
        "/api/v1/customers/imports", files={"file": ("客户.csv", content, "text/csv")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rows"], body["created"], body["failed"]) == (2, 1, 1)
    assert body["errors"] == [
        {
            "line": 3,
            "field": "phone",
            "message": "phone bad is not a mainland mobile number (11 digits starting 13–19)",
        }
    ]


async def test_api_upload_with_mapping(client, session, shop) -> None:
    response = await client.post(
        "/api/v1/customers/imports",
        files={"file": ("c.csv", "nick,cell\n丁,13800001101\n".encode(), "text/csv")},
        data={"mapping": json.dumps({"nick": "display_name", "cell": "phone"})},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    bad = await client.post(
        "/api/v1/customers/imports",
        files={"file": ("c.csv", b"x\n1\n", "text/csv")},
        data={"mapping": "{nope"},
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "mapping"


def test_cli_imports_file_and_writes_error_report(tmp_path, monkeypatch) -> None:
    from liveloop.cli import app
    from liveloop.core.database import Database
    from liveloop.core.settings import get_settings
    from liveloop.models import Base
    from liveloop.shops import service as shops_service

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def prepare() -> int:
        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.unit_of_work() as session:
            shop_id = (await shops_service.create_shop(session=session, name="CLI")).id
        await database.dispose()
        return shop_id

    async def count(shop_id: int) -> int:
        database = Database(url)
        async with database.unit_of_work() as session:
            page = await service.search_customers(
                session=session, shop_id=shop_id, filters=CustomerFilter()
            )
            tags = (await session.execute(select(CustomerTag))).all()
        await database.dispose()
        return page.total * 100 + len(tags)

    shop_id = asyncio.run(prepare())
    source = tmp_path / "customers.csv"
    source.write_bytes("姓名,手机,标签\n甲,13800001201,A\n乙,12345,B\n".encode("gbk"))
    report = tmp_path / "errors.csv"
    monkeypatch.setenv("LIVELOOP_DATABASE_URL", url)
    monkeypatch.setenv("LIVELOOP_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("LIVELOOP_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            [
                "import",
                "customers",
                str(source),
                "--shop-id",
                str(shop_id),
                "--report",
                str(report),
            ],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "1 created" in result.output and "1 failed" in result.output
    assert report.read_text(encoding="utf-8-sig").splitlines()[1].startswith("3,phone,")
    assert asyncio.run(count(shop_id)) == 101
