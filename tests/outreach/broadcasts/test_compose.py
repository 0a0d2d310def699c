"""The console's compose form (/console/outreach/broadcasts/new): per-audience variants by tags,
an A/B split with a hold-out, a schedule in shop time, the read-only estimate, refusals before
anything is created, one broadcast per idempotency key, and errors naming the form's field."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from liveloop.commerce.models import IdempotencyRecord
from liveloop.customers.segments import service as segment_service
from liveloop.outreach.broadcasts import partners
from liveloop.outreach.broadcasts import tasks as broadcast_tasks
from liveloop.outreach.broadcasts.invite import INVITE_TEXT
from liveloop.outreach.broadcasts.models import Broadcast, BroadcastRecipient
from liveloop.outreach.consent import service as consent_service
from liveloop.shops.models import AuditEntry
from liveloop.shops.service import system_actor
from tests import factories
from tests.factories.live import make_live_session
from tests.outreach.broadcasts.conftest import make_customers, make_webhook_channel
from tests.web.conftest import log_in, post_form

NEW = "/console/outreach/broadcasts/new"
CREATE = "/console/outreach/broadcasts"
ESTIMATE = "/console/outreach/broadcasts/estimate"


@pytest.fixture
async def console(anon_client, owner) -> Any:  # type: ignore[no-untyped-def]
    anon_client.csrf = await log_in(anon_client, owner.email)  # type: ignore[attr-defined]
    yield anon_client


@pytest.fixture
def enqueued(monkeypatch) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Delivery jobs asked for after commit, recorded instead of run."""
    calls: list[dict[str, Any]] = []

    def record(session: Any, declared: Any, **kwargs: Any) -> None:
        calls.append({"job": declared.name, **kwargs})

    monkeypatch.setattr(broadcast_tasks, "enqueue_after_commit", record)
    return calls


@pytest.fixture
async def no_quiet_hours(session, shop) -> None:  # type: ignore[no-untyped-def]
    """The counts of "sent now" must not depend on the hour the test runs at."""
    await consent_service.save_policy(
        session=session, shop_id=shop.id, data={"quiet_start": None, "quiet_end": None}
    )


def form(channel_id: int | None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "周五上新", "mode": "split", "when": "now", "holdout_percent": "0",
        "variants.0.key": "A", "variants.0.weight": "100",
        "variants.0.text": "{{ customer.name }}，今晚直播",
    }  # fmt: skip
    if channel_id is not None:
        base["channel_id"] = str(channel_id)
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


async def broadcast_count(session) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(Broadcast)) or 0)


async def variants_of(session, broadcast_id: int) -> dict[int, str | None]:  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(BroadcastRecipient.customer_id, BroadcastRecipient.variant).where(
            BroadcastRecipient.broadcast_id == broadcast_id
        )
    )
    return dict(rows.all())


def error_of(page: str) -> tuple[str, str]:
    found = re.search(r'id="compose-error" data-field="([^"]*)"><span>(.*?)</span>', page, re.S)
    assert found, "the page shows no error"
    shown = html.unescape(re.sub(r"<[^>]+>", "", found.group(2)))
    named, _, message = shown.partition(" · ")
    assert named == found.group(1)  # the field is named in the words too
    return found.group(1), message


def figures(page: str) -> dict[str, int]:
    found = re.findall(
        r'data-figure="(\w+)"><div class="figure-label">[^<]*</div><div class="figure-value">(\d+)',
        page,
    )
    return {name: int(value) for name, value in found}


def held(page: str) -> dict[str, int]:
    return {r: int(n) for r, n in re.findall(r'data-reason="([\w:]+)" data-count="(\d+)"', page)}


async def test_per_audience_variants_by_tags_leave_out_the_excluded(
    session, shop, console, enqueued
) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    vip = await factories.make_tag(session, shop_id=shop.id, name="高价值")
    new = await factories.make_tag(session, shop_id=shop.id, name="新客")
    blocked = await factories.make_tag(session, shop_id=shop.id, name="勿扰")
    members = await make_customers(session, shop.id, 2, tags=[vip])
    newcomers = await make_customers(session, shop.id, 2, tags=[new])
    excluded = await make_customers(session, shop.id, 1, tags=[vip, blocked])
    untagged = await make_customers(session, shop.id, 1)
    await session.commit()

    sent = await post_form(
        console,
        CREATE,
        form(
            channel.id, mode="audience", **{
                "audience.tags_none": [str(blocked.id)],
                "variants.0.key": "member", "variants.0.text": "{{ customer.name }} 会员专享价",
                "variants.0.audience.tags_any": [str(vip.id)],
                # A row removed in the page leaves a gap: the form's rows are 0 and 2.
                "variants.2.key": "newcomer", "variants.2.text": "新人首单立减",
                "variants.2.audience.tags_any": [str(new.id)],
            },
        ),
    )  # fmt: skip
    assert sent.status_code == 303, sent.text[:3000]
    broadcast_id = int(sent.headers["location"].rsplit("/", 1)[1])
    broadcast = await session.get(Broadcast, broadcast_id)
    assert broadcast is not None and broadcast.status == "sending"
    assert broadcast.audience == {"all": True, "tags_none": [blocked.id]}
    assert [(v["key"], v["audience"]) for v in broadcast.variants] == [
        ("member", {"tags_any": [vip.id]}),
        ("newcomer", {"tags_any": [new.id]}),
    ]
    got = await variants_of(session, broadcast_id)
    assert got == {
        **{c.id: "member" for c in members},
        **{c.id: "newcomer" for c in newcomers},
    }
    assert excluded[0].id not in got and untagged[0].id not in got
    assert [call["broadcast_id"] for call in enqueued] == [broadcast_id]
    audit = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "outreach.broadcast.create")
    )
    assert audit is not None and audit.target_id == str(broadcast_id)


async def test_ab_split_with_a_holdout_stores_the_split(session, shop, console, enqueued) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    customers = await make_customers(session, shop.id, 12)
    await session.commit()
    sent = await post_form(
        console,
        CREATE,
        form(
            channel.id, holdout_percent="20", **{
                "audience.all": "1",
                "variants.0.weight": "70",
                "variants.1.key": "B", "variants.1.weight": "30", "variants.1.text": "另一种说法",
                # Ignored in A/B mode: a row's own audience only counts per audience.
                "variants.1.audience.tags_any": [],
            },
        ),
    )  # fmt: skip
    assert sent.status_code == 303, sent.text[:3000]
    broadcast_id = int(sent.headers["location"].rsplit("/", 1)[1])
    broadcast = await session.get(Broadcast, broadcast_id)
    assert broadcast is not None and broadcast.holdout_percent == 20
    assert [(v["key"], v["weight"], "audience" in v) for v in broadcast.variants] == [
        ("A", 70, False),
        ("B", 30, False),
    ]
    got = await variants_of(session, broadcast_id)
    expected = {
        c.id: partners.assign_variant(
            broadcast_id=broadcast_id, customer_id=c.id, variants=[("A", 70), ("B", 30)],
            holdout_percent=20,
        )
        for c in customers
    }  # fmt: skip
    assert got == expected
    skipped = await session.execute(
        select(BroadcastRecipient.reason).where(
            BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.variant.is_(None)
        )
    )
    assert set(skipped.scalars()) <= {"holdout"}


async def test_schedule_in_shop_time_is_stored_in_utc(session, shop, console, enqueued) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    await make_customers(session, shop.id, 2)
    await session.commit()
    zone = ZoneInfo(shop.timezone)
    day = (dt.datetime.now(zone) + dt.timedelta(days=2)).date()
    local = dt.datetime.combine(day, dt.time(20, 30), tzinfo=zone)
    sent = await post_form(
        console,
        CREATE,
        form(channel.id, when="later", scheduled_at=f"{day.isoformat()}T20:30", **{"audience.all": "1"}),
    )  # fmt: skip
    assert sent.status_code == 303, sent.text[:3000]
    broadcast = await session.get(Broadcast, int(sent.headers["location"].rsplit("/", 1)[1]))
    assert broadcast is not None and broadcast.status == "scheduled"
    assert broadcast.scheduled_at == local.astimezone(dt.UTC)
    assert broadcast.scheduled_at.utcoffset() == dt.timedelta(0)
    assert await variants_of(session, broadcast.id) == {}  # prepared when it is due
    assert enqueued == []


async def test_estimate_counts_who_is_held_back_and_why(
    session, shop, console, no_quiet_hours
) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    await make_customers(session, shop.id, 3)
    await make_customers(session, shop.id, 1, consent=False)
    [blocked] = await make_customers(session, shop.id, 1)
    await consent_service.block_contact(
        session=session, shop_id=shop.id, customer_id=blocked.id, channel_key="webhook",
        reason="complaint",
    )  # fmt: skip
    await session.commit()
    page = await post_form(console, ESTIMATE, form(channel.id, **{"audience.all": "1"}))
    assert page.status_code == 200, page.text
    assert figures(page.text) == {"audience": 5, "now": 3, "later": 0, "held": 2}
    assert held(page.text) == {"no_consent": 1, "do_not_contact": 1}
    assert 'data-variant="A" data-count="3"' in page.text
    assert "estimate-refusal" not in page.text
    assert await broadcast_count(session) == 0  # an estimate writes nothing


async def test_empty_audience_is_refused_before_anything_is_created(
    session, shop, console, enqueued
) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    nobody = await factories.make_tag(session, shop_id=shop.id, name="没人有")
    await make_customers(session, shop.id, 2)
    await session.commit()
    body = form(channel.id, idempotency_key="k-empty", **{"audience.tags_any": [str(nobody.id)]})
    estimate = await post_form(console, ESTIMATE, body)
    assert figures(estimate.text)["audience"] == 0
    assert 'id="estimate-refusal"' in estimate.text and "the audience is empty" in estimate.text
    refused = await post_form(console, CREATE, body)
    assert refused.status_code == 422
    field, message = error_of(refused.text)
    assert field == "audience" and "the audience is empty" in message
    assert 'value="周五上新"' in refused.text  # what was typed is kept
    assert await broadcast_count(session) == 0
    assert await session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    # The refusal left the key free: the same form, fixed, goes out.
    fixed = await post_form(console, CREATE, {**body, "audience.tags_any": [], "audience.all": "1"})
    assert fixed.status_code == 303, fixed.text[:3000]
    assert await broadcast_count(session) == 1 and len(enqueued) == 1


async def test_no_consenting_recipient_is_refused_with_the_reasons(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    await make_customers(session, shop.id, 2, consent=False)
    await session.commit()
    body = form(channel.id, **{"audience.all": "1"})
    estimate = await post_form(console, ESTIMATE, body)
    assert figures(estimate.text)["now"] == 0 and held(estimate.text) == {"no_consent": 2}
    assert "can be reached (2 no_consent)" in estimate.text
    refused = await post_form(console, CREATE, body)
    assert refused.status_code == 422
    assert error_of(refused.text) == (
        "audience",
        "none of the 2 customers in the audience can be reached (2 no_consent)",
    )
    assert await broadcast_count(session) == 0


async def test_a_second_submit_with_the_key_returns_the_first_broadcast(
    session, shop, console, enqueued
) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    customers = await make_customers(session, shop.id, 3)
    await session.commit()
    page = await console.get(NEW)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    body = form(channel.id, idempotency_key=key, **{"audience.all": "1"})
    first = await post_form(console, CREATE, body)
    second = await post_form(console, CREATE, body)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert await broadcast_count(session) == 1
    broadcast_id = int(first.headers["location"].rsplit("/", 1)[1])
    assert sorted(await variants_of(session, broadcast_id)) == sorted(c.id for c in customers)
    assert [call["broadcast_id"] for call in enqueued] == [broadcast_id]
    # The key with a changed form is another request: refused, and the form gets a new key.
    changed = await post_form(console, CREATE, {**body, "name": "换个名字"})
    assert changed.status_code == 422
    field, message = error_of(changed.text)
    assert field == "Idempotency-Key" and "different request" in message
    assert f'value="{key}"' not in changed.text and 'value="换个名字"' in changed.text
    assert await broadcast_count(session) == 1
    # Each drawing of the form has its own key.
    again = await console.get(NEW)
    assert f'value="{key}"' not in again.text


async def test_another_shops_channel_tag_or_segment_is_refused(
    session, shop, other_shop, console
) -> None:  # type: ignore[no-untyped-def]
    await make_webhook_channel(session, shop.id)
    theirs = await make_webhook_channel(session, other_shop.id)
    [their_customer] = await make_customers(session, other_shop.id, 1)
    their_segment = await segment_service.create_segment_from_ids(
        session=session, actor=system_actor(other_shop.id, label="test"), name="他们的",
        customer_ids=[their_customer.id],
    )  # fmt: skip
    their_tag = await factories.make_tag(session, shop_id=other_shop.id, name="他们的标签")
    their_live = await make_live_session(session, shop_id=other_shop.id)
    mine = await make_webhook_channel(session, shop.id)
    await make_customers(session, shop.id, 1)
    await session.commit()

    cases = [
        (form(theirs.id, **{"audience.all": "1"}), "channel_id"),
        (form(mine.id, **{"audience.segments": [str(their_segment.id)]}), "audience.segments"),
        (form(mine.id, **{"audience.tags_none": [str(their_tag.id)]}), "audience.tags_none"),
        (
            form(mine.id, live_session_id=str(their_live.id), **{"audience.all": "1"}),
            "live_session_id",
        ),
    ]
    for body, field in cases:
        refused = await post_form(console, CREATE, body)
        assert refused.status_code == 422, (field, refused.text[:2000])
        assert error_of(refused.text)[0] == field
        estimate = await post_form(console, ESTIMATE, body)
        assert f'id="estimate-error" data-field="{field}"' in estimate.text
    assert await broadcast_count(session) == 0


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"channel_id": None}, "channel_id", "pick the channel"),
        ({"name": ""}, "name", "name"),
        ({"audience.tags_any": ["999999"]}, "audience.tags_any", "'999999' is not one of"),
        ({"when": "later", "scheduled_at": "2020-01-01T08:00"}, "scheduled_at", "in the past"),
        ({"when": "later", "scheduled_at": "tomorrow"}, "scheduled_at", "not a date and time"),
        ({"holdout_percent": "60"}, "holdout_percent", "0 to 50"),
        ({"variants.0.text": "你好 {{ customer.nmae }}"}, "variants.0.text", "customer.nmae"),
        ({"variants.0.key": "A B"}, "variants.0.key", "1 to 24 letters"),
        ({"variants.0.weight": "0"}, "variants.0.weight", "add up to 0"),
        ({"mode": "audience"}, "variants.0.audience.tags_any", "its own tags"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    session, shop, console, change, field, words
) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    await make_customers(session, shop.id, 1)
    await session.commit()
    body = {**form(channel.id, **{"audience.all": "1"}), **change}
    refused = await post_form(console, CREATE, {k: v for k, v in body.items() if v is not None})
    assert refused.status_code == 422
    got_field, message = error_of(refused.text)
    assert got_field == field and words in message, message
    assert 'class="field-error"' in refused.text  # also shown beside the field
    if body.get("name"):
        assert f'value="{body["name"]}"' in refused.text
    assert await broadcast_count(session) == 0


async def test_a_saved_template_of_another_kind_is_refused_on_its_row(
    session, shop, console, enqueued
) -> None:  # type: ignore[no-untyped-def]
    from liveloop.outreach.contracts import ChannelKind
    from liveloop.outreach.messages import service as message_service

    channel = await make_webhook_channel(session, shop.id)
    await make_customers(session, shop.id, 2)
    sms = await message_service.create_template(
        session=session, shop_id=shop.id,
        data=message_service.TemplateIn(name="短信", kind=ChannelKind.SMS, parts={"text": "hi"}),
    )  # fmt: skip
    hook = await message_service.create_template(
        session=session, shop_id=shop.id,
        data=message_service.TemplateIn(
            name="回调", kind=ChannelKind.WEBHOOK, parts={"text": "{{ customer.name }} 来看直播"}
        ),
    )  # fmt: skip
    await session.commit()
    body = form(channel.id, **{"audience.all": "1", "variants.3.key": "B", "variants.3.text": "x"})
    wrong = await post_form(console, CREATE, {**body, "variants.3.template_id": str(sms.id)})
    assert wrong.status_code == 422
    assert error_of(wrong.text)[0] == "variants.3.template_id"
    right = await post_form(console, CREATE, {**body, "variants.3.template_id": str(hook.id)})
    assert right.status_code == 303, right.text[:3000]
    broadcast = await session.get(Broadcast, int(right.headers["location"].rsplit("/", 1)[1]))
    assert broadcast is not None
    assert [(v["key"], v["template_id"]) for v in broadcast.variants] == [
        ("A", None),
        ("B", hook.id),
    ]


async def test_new_page_from_a_live_session_and_the_links_to_it(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, title="周五春茶专场")
    channel = await make_webhook_channel(session, shop.id)
    tag = await factories.make_tag(session, shop_id=shop.id, name="高价值")
    await session.commit()

    listing = await console.get("/console/outreach")
    assert f'href="{NEW}"' in listing.text
    panel = await console.get("/console/outreach/invite-panel", params={"live_session_id": live.id})
    assert f'href="{NEW}?live_session_id={live.id}"' in panel.text

    page = await console.get(NEW, params={"live_session_id": live.id})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert 'value="邀请：周五春茶专场"' in text
    assert f'<option value="{live.id}" selected>' in text
    assert f'<option value="{channel.id}" data-kind="webhook" selected>' in text
    assert INVITE_TEXT in text  # the session's invitation words in the first variant
    assert f'<option value="{tag.id}">高价值</option>' in text
    assert "Asia/Shanghai" in text and 'name="idempotency_key"' in text

    blank = await console.get(NEW)
    assert blank.status_code == 200 and "邀请：" not in blank.text


async def test_another_shops_live_session_is_not_found(session, shop, other_shop, console) -> None:  # type: ignore[no-untyped-def]
    theirs = await make_live_session(session, shop_id=other_shop.id)
    await session.commit()
    page = await console.get(NEW, params={"live_session_id": theirs.id})
    assert page.status_code == 404
