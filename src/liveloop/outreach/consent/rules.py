"""When may a message go out: frequency caps and quiet hours, as pure functions of time.

Nothing here touches the database, so the rules can be checked by property tests over random
schedules. A cap is "at most `count` marketing messages in any `days`-day window" (rolling,
half-open windows [s, s + days)); quiet hours are a wall-clock range in the shop's time zone,
half-open too: with 22:00–08:00 a message planned for 23:10 waits until 08:00, and 08:00 itself
is allowed.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_CAP: dict[str, int] = {"count": 2, "days": 7}
DEFAULT_QUIET = ("22:00", "08:00")

R_FREQUENCY_CAP = "frequency_cap"
R_QUIET_HOURS = "quiet_hours"


@dataclass(frozen=True)
class Decision:
    """send_at None: not at all (reason says why); send_at later than now: wait (quiet hours)."""

    send_at: dt.datetime | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.send_at is not None


@dataclass(frozen=True)
class Cap:
    count: int
    days: int

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(days=self.days)


@dataclass(frozen=True)
class Rules:
    """The rules for one channel key of one shop (see `rules_for`)."""

    cap: Cap | None = Cap(**DEFAULT_CAP)
    quiet_start: dt.time | None = dt.time(22, 0)
    quiet_end: dt.time | None = dt.time(8, 0)

    @property
    def has_quiet_hours(self) -> bool:
        return (
            self.quiet_start is not None
            and self.quiet_end is not None
            and self.quiet_start != self.quiet_end
        )


def parse_clock(value: str) -> dt.time:
    """'08:00' -> time(8, 0); ValueError for anything else."""
    hours, sep, minutes = value.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"{value!r} is not a time of day like 08:00")
    clock = dt.time(int(hours), int(minutes)) if int(hours) < 24 and int(minutes) < 60 else None
    if clock is None:
        raise ValueError(f"{value!r} is not a time of day like 08:00")
    return clock


def rules_for(
    *,
    caps: Mapping[str, Any] | None,
    quiet_start: str | None,
    quiet_end: str | None,
    channel_key: str,
) -> Rules:
    """The rules of a stored policy for one channel key: its own cap, else the "*" cap, else
    none (a cap of `{"count": 0}` or missing means unlimited for that key)."""
    entry = (caps or {}).get(channel_key, (caps or {}).get("*"))
    cap = None
    if entry and int(entry.get("count", 0)) > 0 and int(entry.get("days", 0)) > 0:
        cap = Cap(count=int(entry["count"]), days=int(entry["days"]))
    start = parse_clock(quiet_start) if quiet_start else None
    end = parse_clock(quiet_end) if quiet_end else None
    return Rules(cap=cap, quiet_start=start, quiet_end=end)


def in_quiet_hours(moment: dt.datetime, *, tz: ZoneInfo, rules: Rules) -> bool:
    if not rules.has_quiet_hours:
        return False
    assert rules.quiet_start is not None and rules.quiet_end is not None
    clock = moment.astimezone(tz).time().replace(tzinfo=None)
    start, end = rules.quiet_start, rules.quiet_end
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # across midnight


def next_quiet_end(moment: dt.datetime, *, tz: ZoneInfo, rules: Rules) -> dt.datetime:
    """The first end of quiet hours after `moment` (UTC). A wall-clock end that a DST change
    skips maps forward, which is still outside quiet hours."""
    assert rules.quiet_end is not None
    local = moment.astimezone(tz)
    for days in range(3):
        day = local.date() + dt.timedelta(days=days)
        candidate = dt.datetime.combine(day, rules.quiet_end, tzinfo=tz).astimezone(dt.UTC)
        if candidate > moment and not in_quiet_hours(candidate, tz=tz, rules=rules):
            return candidate
    raise AssertionError("quiet hours never end")  # pragma: no cover (ranges are < 24 h)


def _fits_cap(moment: dt.datetime, history: Sequence[dt.datetime], cap: Cap) -> bool:
    """Would one more message at `moment` keep every window within the cap? Only windows that
    contain `moment` change; the fullest of them starts at `moment` or at an earlier message."""
    window = cap.window
    times = sorted(history)
    starts = [moment, *(t for t in times if moment - window < t <= moment)]
    for start in starts:
        low = bisect_left(times, start)
        high = bisect_left(times, start + window)
        if high - low + 1 > cap.count:
            return False
    return True


def plan_delivery(
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    policy: Rules,
    history: Sequence[dt.datetime],
    marketing: bool,
) -> Decision:
    """When one message to one customer on one channel may go out.

    `history`: the times of this customer's earlier (or already planned) marketing messages on
    the channel. Transactional messages go now, whatever the rules say (they never carry
    marketing); a marketing message inside quiet hours waits for their end; one that would
    exceed the cap in any window does not go at all.
    """
    if not marketing:
        return Decision(send_at=now, reason=None)
    send_at, reason = now, None
    if in_quiet_hours(now, tz=tz, rules=policy):
        send_at, reason = next_quiet_end(now, tz=tz, rules=policy), R_QUIET_HOURS
    if policy.cap is not None and not _fits_cap(send_at, history, policy.cap):
        return Decision(send_at=None, reason=R_FREQUENCY_CAP)
    return Decision(send_at=send_at, reason=reason)
