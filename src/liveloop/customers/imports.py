"""Importing customers from CSV: decoding, column mapping, row checks, batched writes.

Each row is checked whole before anything is written; a bad row is reported with its line
number and the rest go on. Rows are written per chunk: one identity lookup for the chunk,
bulk inserts of customers and identities, a bulk update of the customers already known.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput
from liveloop.core.security import PiiCipher
from liveloop.customers import service as customers_service
from liveloop.customers import tags as tags_service
from liveloop.customers.crypto import get_cipher
from liveloop.customers.identities import IdentityValue, make_identity
from liveloop.customers.models import CHANNELS, Customer
from liveloop.shops.service import Actor, record_audit

CHUNK_SIZE = 2000
MAX_ERRORS_KEPT = 10_000

PROFILE_COLUMNS = (
    "display_name",
    "gender",
    "birthday",
    "province",
    "city",
    "source_channel",
    "notes",
)
FIELDS: tuple[str, ...] = (*PROFILE_COLUMNS, *CHANNELS, "tags")
MAX_LENGTHS = {
    "display_name": 100,
    "province": 32,
    "city": 32,
    "source_channel": 32,
    "notes": 5000,
}

# Header names understood without a mapping (compared lower-cased, spaces removed).
DEFAULT_HEADERS: dict[str, str] = {
    **{name: "display_name" for name in ("姓名", "名字", "昵称", "客户名称", "客户姓名", "name", "display_name", "nickname")},
    **{name: "phone" for name in ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile", "tel")},
    **{name: "email" for name in ("邮箱", "电子邮箱", "邮件", "email", "e-mail", "mail")},
    **{name: "gender" for name in ("性别", "gender", "sex")},
    **{name: "birthday" for name in ("生日", "出生日期", "birthday", "birthdate", "birth_date")},
    **{name: "province" for name in ("省份", "省", "province", "region")},
    **{name: "city" for name in ("城市", "市", "city")},
    **{name: "source_channel" for name in ("来源", "来源渠道", "渠道", "source", "source_channel", "channel")},
    **{name: "tags" for name in ("标签", "tags", "tag")},
    **{name: "notes" for name in ("备注", "notes", "note", "remark")},
    **{name: "wechat_openid" for name in ("openid", "微信openid", "wechat_openid")},
    **{name: "wechat_unionid" for name in ("unionid", "微信unionid", "wechat_unionid")},
    **{name: "wecom" for name in ("企微id", "企业微信id", "企微外部联系人id", "wecom", "external_userid", "wecom_id")},
    **{name: "douyin" for name in ("抖音id", "抖音", "douyin", "douyin_id")},
    **{name: "miniprogram" for name in ("小程序openid", "小程序id", "miniprogram", "miniprogram_openid")},
}  # fmt: skip

_GENDERS = {
    "男": "male", "m": "male", "male": "male", "先生": "male",
    "女": "female", "f": "female", "female": "female", "女士": "female",
    "其他": "other", "other": "other",
    "未知": None, "unknown": None, "保密": None,
}  # fmt: skip
_TAG_SEPARATORS = re.compile(r"[;；,，、|]")
_DATE = re.compile(r"(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*[-/.月]?\s*(\d{1,2})\s*日?")


def _header_key(name: str) -> str:
    return re.sub(r"\s+", "", name.strip().lstrip("\ufeff")).lower()


def parse_mapping(text: str | None) -> dict[str, str]:
    """'手机号码=phone,昵称=display_name' -> {'手机号码': 'phone', '昵称': 'display_name'}."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        column, sep, target = part.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise InvalidInput(
                f"mapping entry {part.strip()!r} should read column=field", field="mapping"
            )
        mapping[column.strip()] = target.strip()
    return check_mapping(mapping)


def check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    for column, target in mapping.items():
        if target not in FIELDS:
            raise InvalidInput(
                f"column {column} is mapped to unknown field {target!r}; use one of "
                + ", ".join(FIELDS),
                field="mapping",
            )
    return mapping


def decode_csv(data: bytes, encoding: str = "auto") -> str:
    """UTF-8 (with or without BOM) or GBK/GB18030; 'auto' tries UTF-8 first. NULs are dropped."""
    return _decode(data, encoding).replace("\x00", "")


def _decode(data: bytes, encoding: str) -> str:
    if encoding in ("utf-8", "utf8", "utf-8-sig"):
        candidates = ["utf-8-sig"]
    elif encoding in ("gbk", "gb2312", "gb18030"):
        candidates = ["gb18030"]
    elif encoding == "auto":
        candidates = ["utf-8-sig", "gb18030"]
    else:
        raise InvalidInput(
            f"unknown encoding {encoding!r}; use auto, utf-8 or gbk", field="encoding"
        )
    for name in candidates:
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        f"the file is not {' or '.join(c.upper() for c in candidates)} text; save it as UTF-8 CSV",
        code="bad_encoding",
        field="file",
    )


@dataclass(slots=True)
class RowError:
    line: int
    field: str | None
    message: str


@dataclass(slots=True)
class ParsedRow:
    line: int
    profile: dict[str, Any]
    identities: list[IdentityValue]
    tags: list[str]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    created_ids: set[int] = field(default_factory=set, repr=False)
    updated_ids: set[int] = field(default_factory=set, repr=False)

    def add_error(self, error: RowError) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "failed": self.failed,
        }


def _column_fields(
    header: Sequence[str], mapping: dict[str, str]
) -> tuple[list[tuple[int, str]], list[str]]:
    wanted = {_header_key(k): v for k, v in mapping.items()}
    columns: list[tuple[int, str]] = []
    ignored: list[str] = []
    taken: set[str] = set()
    for index, name in enumerate(header):
        key = _header_key(name)
        target = wanted.get(key) or (DEFAULT_HEADERS.get(key) if key not in wanted else None)
        if target is None or target in taken:
            if name.strip():
                ignored.append(name.strip())
            continue
        taken.add(target)
        columns.append((index, target))
    for column in mapping:
        if _header_key(column) not in {_header_key(h) for h in header}:
            raise InvalidInput(
                f"the file has no column {column} (named in the mapping)", field="mapping"
            )
    if not any(target in CHANNELS for _, target in columns):
        raise InvalidInput(
            "the file has no column for phone, e-mail or a channel id (openid, unionid, 企微ID…); "
            "name one in the mapping, e.g. 'mobile=phone'",
            code="no_identity_column",
            field="mapping",
        )
    return columns, ignored


def _parse_gender(value: str) -> str | None:
    key = value.strip().lower()
    if key not in _GENDERS:
        raise InvalidInput(f"gender {value} is not 男/女/其他 or male/female/other", field="gender")
    return _GENDERS[key]


def _parse_birthday(value: str, today: dt.date | None = None) -> dt.date:
    text = value.strip()
    day: dt.date | None = None
    if len(text) == 10 and text[4] == "-" == text[7] and text.isascii():
        # The usual 1990-05-17 without the regex; anything odd goes the long way.
        year, month, mday = text[:4], text[5:7], text[8:]
        if year.isdigit() and month.isdigit() and mday.isdigit():
            try:
                day = dt.date(int(year), int(month), int(mday))
            except ValueError:
                day = None
    if day is None:
        match = _DATE.fullmatch(text)
        try:
            if not match:
                raise ValueError
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise InvalidInput(
                f"birthday {value} is not a date like 1990-05-17", field="birthday"
            ) from None
    if not _EARLIEST_BIRTHDAY <= day <= (today or dt.date.today()):
        raise InvalidInput(f"birthday {value} is not between 1900 and today", field="birthday")
    return day


_EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)
# What a mapped column holds, decided once per file rather than per cell.
_IDENTITY, _TEXT, _TAGS, _GENDER, _BIRTHDAY = range(5)


class RowChecker:
    """Checks the rows of one file; the column plan and today's date are worked out once."""

    def __init__(
        self,
        cipher: PiiCipher,
        columns: Sequence[tuple[int, str]],
        *,
        today: dt.date | None = None,
    ) -> None:
        self._cipher = cipher
        self._today = today or dt.date.today()
        self._plan = [
            (index, target, _kind(target), MAX_LENGTHS.get(target, 0)) for index, target in columns
        ]

    def check(self, line: int, cells: Sequence[str]) -> ParsedRow | RowError:
        """Check every cell of one row; the first problem found is the row's error."""
        profile: dict[str, Any] = {}
        identities: list[IdentityValue] = []
        tags: list[str] = []
        target = ""
        width = len(cells)
        try:
            for index, target, kind, limit in self._plan:
                raw = cells[index].strip() if index < width else ""
                if not raw:
                    continue
                if kind == _IDENTITY:
                    identities.append(make_identity(self._cipher, target, raw))
                elif kind == _TEXT:
                    if len(raw) > limit:
                        raise InvalidInput(
                            f"{target} is longer than {limit} characters", field=target
                        )
                    profile[target] = raw
                elif kind == _TAGS:
                    tags = _parse_tags(raw)
                elif kind == _GENDER:
                    profile["gender"] = _parse_gender(raw)
                else:
                    profile["birthday"] = _parse_birthday(raw, self._today)
        except InvalidInput as exc:
            return RowError(line, exc.field or target, exc.message)
        if not identities:
            return RowError(
                line,
                None,
                "the row has no phone, e-mail or channel id to recognise the customer by",
            )
        return ParsedRow(line, profile, identities, tags)


def _kind(target: str) -> int:
    if target in CHANNELS:
        return _IDENTITY
    return {"tags": _TAGS, "gender": _GENDER, "birthday": _BIRTHDAY}.get(target, _TEXT)


def _parse_tags(raw: str) -> list[str]:
    tags: list[str] = []
    for part in _TAG_SEPARATORS.split(raw):
        tag = part.strip()
        if len(tag) > 50:
            raise InvalidInput(f"tag {tag[:20]}… is longer than 50 characters", field="tags")
        if tag:
            tags.append(tag)
    return tags


def parse_row(
    cipher: PiiCipher, line: int, cells: Sequence[str], columns: Sequence[tuple[int, str]]
) -> ParsedRow | RowError:
    """Check one row on its own (an import checks its rows through one RowChecker)."""
    return RowChecker(cipher, columns).check(line, cells)


@dataclass(slots=True)
class _Slot:
    """One customer a chunk writes to: an existing one (customer_id) or a new one."""

    first_line: int
    customer_id: int | None
    profile: dict[str, Any] = field(default_factory=dict)
    new_identities: dict[tuple[str, str], IdentityValue] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)


def _holder_name(slots: list[_Slot], kind: str, ref: int) -> str:
    if kind == "customer":
        return f"customer {ref}"
    slot = slots[ref]
    return (
        f"customer {slot.customer_id}"
        if slot.customer_id
        else f"the customer of line {slot.first_line}"
    )


def _assign_slots(
    rows: list[ParsedRow], found: dict[tuple[str, str], int], report: ImportReport
) -> list[_Slot]:
    """Group the chunk's rows by the customer they write to; rows naming two are errors."""
    slots: list[_Slot] = []
    owner: dict[tuple[str, str], int] = {}  # identity -> index in slots
    existing_slot: dict[int, int] = {}  # customer id -> index in slots
    for row in rows:
        keys = [identity.lookup for identity in row.identities]
        # Who the row's identities already point to: a slot of this chunk or a stored customer.
        holders: set[tuple[str, int]] = set()
        for key in keys:
            if key in owner:
                holders.add(("slot", owner[key]))
            elif key in found:
                customer_id = found[key]
                if customer_id in existing_slot:
                    holders.add(("slot", existing_slot[customer_id]))
                else:
                    holders.add(("customer", customer_id))
        if len(holders) > 1:
            names = sorted(_holder_name(slots, kind, ref) for kind, ref in holders)
            report.add_error(
                RowError(
                    row.line,
                    None,
                    f"the row's identities belong to different customers ({', '.join(names)}); "
                    "merge them first",
                )
            )
            continue
        if not holders:
            index = len(slots)
            slots.append(_Slot(row.line, None, {}, {}, set()))
        else:
            kind, ref = holders.pop()
            if kind == "customer":
                index = existing_slot[ref] = len(slots)
                slots.append(_Slot(row.line, ref, {}, {}, set()))
                if ref in report.created_ids:
                    report.duplicates += 1
            else:
                index = ref
                report.duplicates += 1
        slot = slots[index]
        slot.profile.update(row.profile)
        slot.tags.update(row.tags)
        for key, identity in zip(keys, row.identities, strict=True):
            owner[key] = index
            if key not in found and key not in slot.new_identities:
                slot.new_identities[key] = identity
    return slots


async def _write_chunk(
    session: AsyncSession, actor: Actor, rows: list[ParsedRow], report: ImportReport
) -> None:
    shop_id = actor.shop_id
    found = await customers_service.lookup_identities(
        session=session, shop_id=shop_id, keys=(i.lookup for row in rows for i in row.identities)
    )
    slots = _assign_slots(rows, found, report)

    now = utcnow()
    new_slots = [s for s in slots if s.customer_id is None]
    new_ids = await customers_service.insert_customer_rows(
        session=session,
        rows=[
            {
                "shop_id": shop_id,
                **s.profile,
                "source_channel": s.profile.get("source_channel") or "import",
                "first_seen_at": now,
            }
            for s in new_slots
        ],
    )
    for slot, customer_id in zip(new_slots, new_ids, strict=True):
        slot.customer_id = customer_id
    report.created_ids.update(new_ids)
    report.updated_ids.update(
        s.customer_id for s in slots if s.customer_id not in report.created_ids
    )
    report.created = len(report.created_ids)
    report.updated = len(report.updated_ids)
    fresh = set(new_ids)
    updates = [
        {"id": s.customer_id, **s.profile, "updated_at": now}
        for s in slots
        if s.profile and s.customer_id not in fresh
    ]
    if updates:
        await session.execute(update(Customer), updates)

    await customers_service.insert_identity_rows(
        session=session,
        shop_id=shop_id,
        pairs=[
            (s.customer_id, i) for s in slots if s.customer_id for i in s.new_identities.values()
        ],
    )

    tag_ids = await tags_service.ensure_tags(
        session=session, shop_id=shop_id, names=(t for s in slots for t in s.tags)
    )
    if tag_ids:
        await tags_service.add_tag_links(
            session=session,
            shop_id=shop_id,
            pairs=[(s.customer_id, tag_ids[t]) for s in slots for t in s.tags if s.customer_id],
            source="import",
            tagged_by=actor.label,
        )


@dataclass(slots=True)
class _CheckedChunk:
    rows: int = 0
    parsed: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


CHECK_SLICE = 50  # rows checked between two chances for the writing task to go on


async def _check_chunk(
    checker: RowChecker, body: Sequence[Sequence[str]], start: int, size: int
) -> _CheckedChunk:
    chunk = _CheckedChunk()
    end = min(start + size, len(body))
    for slice_start in range(start, end, CHECK_SLICE):
        for index in range(slice_start, min(slice_start + CHECK_SLICE, end)):
            cells = body[index]
            if not "".join(cells).strip():
                continue
            chunk.rows += 1
            result = checker.check(index + 2, cells)
            if isinstance(result, RowError):
                chunk.errors.append(result)
            else:
                chunk.parsed.append(result)
        await asyncio.sleep(0)
    return chunk


async def import_customer_records(
    *,
    session: AsyncSession,
    actor: Actor,
    records: Sequence[Sequence[str]],
    mapping: dict[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int], None] | None = None,
    source_name: str | None = None,
) -> ImportReport:
    """Import already-split CSV records (first one = header); line numbers count the header."""
    report = ImportReport()
    if not records:
        raise InvalidInput(
            "the file is empty; the first line should name the columns", field="file"
        )
    columns, report.ignored_columns = _column_fields(records[0], check_mapping(dict(mapping or {})))
    checker = RowChecker(get_cipher(), columns)
    body = records[1:]
    # Chunk n is written while chunk n + 1 is checked: the checking yields to the writing task
    # every few rows, so the database works on one chunk while Python checks the next.
    writing: asyncio.Task[None] | None = None
    try:
        for start in range(0, len(body), chunk_size):
            checked = await _check_chunk(checker, body, start, chunk_size)
            if writing is not None:
                await writing
                writing = None
                if on_progress is not None:
                    on_progress(min(start, len(body)))
            report.rows += checked.rows
            for error in checked.errors:
                report.add_error(error)
            if checked.parsed:
                writing = asyncio.create_task(_write_chunk(session, actor, checked.parsed, report))
            elif on_progress is not None:
                on_progress(min(start + chunk_size, len(body)))
        if writing is not None:
            await writing
            writing = None
            if on_progress is not None:
                on_progress(len(body))
    finally:
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
    await record_audit(
        session=session,
        actor=actor,
        action="customer.import",
        target_type="customer",
        details={"file": source_name, **report.counts()},
    )
    return report


def split_csv(text: str) -> list[list[str]]:
    """Records of the CSV text (one per physical line, except quoted multi-line cells)."""
    return list(csv.reader(io.StringIO(text, newline="")))


async def import_customers_csv(
    *,
    session: AsyncSession,
    actor: Actor,
    data: bytes,
    mapping: dict[str, str] | None = None,
    encoding: str = "auto",
    chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    source_name: str | None = None,
) -> ImportReport:
    """Import a CSV file's bytes (the CLI and the API upload both come here)."""
    records = split_csv(decode_csv(data, encoding))
    if on_start is not None:
        on_start(max(len(records) - 1, 0))
    return await import_customer_records(
        session=session,
        actor=actor,
        records=records,
        mapping=mapping,
        chunk_size=chunk_size,
        on_progress=on_progress,
        source_name=source_name,
    )


def error_report_csv(errors: Iterable[RowError]) -> str:
    """The per-row errors as CSV (line, field, message), with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "field", "message"])
    for error in errors:
        writer.writerow([error.line, error.field or "", error.message])
    return "\ufeff" + buffer.getvalue()
