"""The pure rules: caps over rolling windows, quiet hours in the shop's time zone, and the
transactional exemption — with hand-computed cases and a property test over random schedules."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.outreach.consent.rules import (
    Cap,
    Decision,
    Rules,
    in_quiet_hours,
    next_quiet_end,
    parse_clock,
    plan_delivery,
    rules_for,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT = Rules()  # 2 per 7 days, 22:00-08:00


def cst(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Shanghai wall-clock moment of December 2026, as UTC."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI).astimezone(dt.UTC)


def test_message_in_daytime_goes_now() -> None:
    now = cst(7, 10)
    assert plan_delivery(now=now, tz=SHANGHAI, policy=DEFAULT, history=[], marketing=True) == (
        Decision(send_at=now, reason=None)
    )


def test_message_at_night_waits_for_eight_in_the_morning() -> None:
    late = cst(7, 23, 10)
    decision = plan_delivery(now=late, tz=SHANGHAI, policy=DEFAULT, history=[], marketing=True)
    assert decision == Decision(send_at=cst(8, 8, 0), reason="quiet_hours")
    assert decision.send_at == dt.datetime(2026, 12, 8, 0, 0, tzinfo=dt.UTC)
    early = cst(8, 3, 0)  # after midnight: the same morning
    decision = plan_delivery(now=early, tz=SHANGHAI, policy=DEFAULT, history=[], marketing=True)
    assert decision.send_at == cst(8, 8, 0)


def test_quiet_hours_are_half_open() -> None:
    assert in_quiet_hours(cst(7, 22, 0), tz=SHANGHAI, rules=DEFAULT)
    assert in_quiet_hours(cst(8, 7, 59), tz=SHANGHAI, rules=DEFAULT)
    assert not in_quiet_hours(cst(8, 8, 0), tz=SHANGHAI, rules=DEFAULT)
    assert not in_quiet_hours(cst(7, 21, 59), tz=SHANGHAI, rules=DEFAULT)


def test_daytime_quiet_range_and_none() -> None:
    lunch = Rules(cap=None, quiet_start=dt.time(12), quiet_end=dt.time(14))
    assert in_quiet_hours(cst(7, 13), tz=SHANGHAI, rules=lunch)
    assert not in_quiet_hours(cst(7, 23), tz=SHANGHAI, rules=lunch)
    assert next_quiet_end(cst(7, 13), tz=SHANGHAI, rules=lunch) == cst(7, 14)
    never = Rules(cap=None, quiet_start=None, quiet_end=None)
    assert not in_quiet_hours(cst(7, 23), tz=SHANGHAI, rules=never)


def test_third_message_within_a_week_is_capped() -> None:
    now = cst(7, 10)
    history = [cst(1, 11), cst(4, 15)]  # both within the 7 days before
    decision = plan_delivery(now=now, tz=SHANGHAI, policy=DEFAULT, history=history, marketing=True)
    assert decision == Decision(send_at=None, reason="frequency_cap")
    # One of them a week and a minute ago: outside the window, so it may go.
    history = [now - dt.timedelta(days=7, minutes=1), cst(4, 15)]
    decision = plan_delivery(now=now, tz=SHANGHAI, policy=DEFAULT, history=history, marketing=True)
    assert decision.send_at == now


def test_cap_counts_planned_future_messages() -> None:
    now = cst(7, 10)
    history = [cst(9, 10), cst(12, 10)]  # two already planned in the coming days
    decision = plan_delivery(now=now, tz=SHANGHAI, policy=DEFAULT, history=history, marketing=True)
    assert decision.reason == "frequency_cap"


def test_transactional_is_exempt_from_cap_and_quiet_hours() -> None:
    late = cst(7, 23, 30)
    history = [cst(7, 10), cst(7, 11), cst(7, 12)]
    decision = plan_delivery(
        now=late, tz=SHANGHAI, policy=DEFAULT, history=history, marketing=False
    )
    assert decision == Decision(send_at=late, reason=None)


def test_rules_for_stored_policy() -> None:
    caps = {"*": {"count": 3, "days": 1}, "sms": {"count": 1, "days": 30}}
    assert rules_for(caps=caps, quiet_start=None, quiet_end=None, channel_key="sms").cap == Cap(
        1, 30
    )
    assert rules_for(caps=caps, quiet_start=None, quiet_end=None, channel_key="email").cap == Cap(
        3, 1
    )
    assert rules_for(caps={}, quiet_start="21:30", quiet_end="09:00", channel_key="sms") == Rules(
        cap=None, quiet_start=dt.time(21, 30), quiet_end=dt.time(9)
    )
    assert rules_for(caps={"sms": {"count": 0, "days": 7}}, quiet_start=None, quiet_end=None,
                     channel_key="sms").cap is None  # fmt: skip


@pytest.mark.parametrize("text", ["8:00", "24:00", "12:60", "ab:cd", "", "12-00"])
def test_parse_clock_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_clock(text)


# --------------------------------------------------------------------------- property test

ZONES = ["Asia/Shanghai", "UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _max_in_window(times: list[dt.datetime], window: dt.timedelta) -> int:
    ordered = sorted(times)
    return max((bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Rules, str, list[tuple[dt.datetime, bool]]]:
    count = draw(st.integers(1, 4))
    days = draw(st.integers(1, 10))
    quiet = draw(st.booleans())
    clock = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
    start, end = (draw(clock), draw(clock)) if quiet else (None, None)
    rules = Rules(cap=Cap(count, days), quiet_start=start, quiet_end=end)
    offsets = draw(st.lists(st.integers(0, 60 * 24 * 60), min_size=1, max_size=40))
    attempts = [(START + dt.timedelta(minutes=m), draw(st.booleans())) for m in sorted(offsets)]
    return rules, draw(st.sampled_from(ZONES)), attempts


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_random_schedules_never_break_cap_or_quiet_hours(
    case: tuple[Rules, str, list[tuple[dt.datetime, bool]]],
) -> None:
    """A sender tries messages at random moments (marketing or not) and sends what
    plan_delivery allows at the time it says: in every window the marketing ones stay within
    the cap, none goes out inside quiet hours, transactional ones go at once."""
    rules, zone_name, attempts = case
    zone = ZoneInfo(zone_name)
    sent: list[dt.datetime] = []
    for now, marketing in attempts:
        decision = plan_delivery(now=now, tz=zone, policy=rules, history=sent, marketing=marketing)
        if not marketing:
            assert decision == Decision(send_at=now, reason=None)
            continue
        if decision.send_at is None:
            assert decision.reason == "frequency_cap"
            # Refused only when sending would really have broken the cap.
            at = (
                next_quiet_end(now, tz=zone, rules=rules)
                if in_quiet_hours(now, tz=zone, rules=rules)
                else now
            )
            assert rules.cap is not None
            assert _max_in_window([*sent, at], rules.cap.window) > rules.cap.count
            continue
        assert decision.send_at >= now
        assert not in_quiet_hours(decision.send_at, tz=zone, rules=rules)
        if decision.send_at > now:
            assert decision.reason == "quiet_hours"
            assert in_quiet_hours(now, tz=zone, rules=rules)
            assert decision.send_at - now <= dt.timedelta(hours=25)
        sent.append(decision.send_at)
    assert rules.cap is not None
    assert _max_in_window(sent, rules.cap.window) <= rules.cap.count
