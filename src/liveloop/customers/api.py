"""JSON routes of customers, identities, tags, merges, import and export."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from liveloop.core.deps import DbSession, SessionOpener
from liveloop.core.errors import InvalidInput
from liveloop.core.schemas import PageOut
from liveloop.customers import exports, imports, service
from liveloop.customers import merge as merge_service
from liveloop.customers import tags as tags_service
from liveloop.customers import timeline as timeline_service
from liveloop.customers.schemas import (
    BulkTagIn,
    BulkTagOut,
    Channel,
    CustomerCreate,
    CustomerFilter,
    CustomerOut,
    CustomerPii,
    CustomerUpdate,
    IdentityIn,
    IdentityOut,
    IdentityRevealed,
    ImportResult,
    ImportRowError,
    MergeIn,
    MergeOut,
    Status,
    TagGroupIn,
    TagGroupOut,
    TagGroupUpdate,
    TagIn,
    TagOut,
    TagUpdate,
    TimelineEntry,
)
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["customers"], dependencies=[Depends(current_actor)])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]
Merger = Annotated[Actor, requires(P.CUSTOMERS_MERGE)]
TagManager = Annotated[Actor, requires(P.TAGS_MANAGE)]

MAX_IMPORT_BYTES = 50 * 1024 * 1024


def customer_filter(
    q: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    tag_ids: Annotated[list[int] | None, Query()] = None,
    tag_match: Literal["all", "any"] = "all",
    channel: Channel | None = None,
    source: str | None = None,
    status: Status = "active",
    created_from: dt.datetime | None = None,
    created_to: dt.datetime | None = None,
    active_from: dt.datetime | None = None,
    active_to: dt.datetime | None = None,
) -> CustomerFilter:
    """The list filter from query parameters (tag_ids repeats: ?tag_ids=1&tag_ids=2)."""
    return CustomerFilter(
        q=q or None,
        phone=phone or None,
        email=email or None,
        tag_ids=tag_ids or [],
        tag_match=tag_match,
        channel=channel,
        source=source or None,
        status=status,
        created_from=created_from,
        created_to=created_to,
        active_from=active_from,
        active_to=active_to,
    )


Filters = Annotated[CustomerFilter, Depends(customer_filter)]


@router.get("/customers", response_model=PageOut[CustomerOut])
async def list_customers(
    session: DbSession,
    actor: Reader,
    filters: Filters,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[CustomerOut]:
    """Search customers; phone and e-mail are always masked here."""
    result = await service.search_customers(
        session=session, shop_id=actor.shop_id, filters=filters, page=page, per_page=per_page
    )
    return PageOut[CustomerOut].of(result, CustomerOut)


@router.post("/customers", response_model=CustomerOut, status_code=201)
async def create_customer(data: CustomerCreate, session: DbSession, actor: Writer) -> CustomerOut:
    customer = await service.create_customer(session=session, actor=actor, data=data)
    return CustomerOut.model_validate(customer)


@router.get("/customers/export.csv", response_class=StreamingResponse)
async def export_customers(
    session: DbSession,
    open_session: SessionOpener,
    actor: Annotated[Actor, requires(P.CUSTOMERS_EXPORT)],
    filters: Filters,
    reveal: bool = False,
) -> StreamingResponse:
    """The filtered list as CSV (UTF-8 with BOM); masked unless reveal=true and permitted."""
    filters, _ = await exports.start_export(
        session=session, actor=actor, filters=filters, reveal=reveal
    )
    lines = exports.export_csv_lines(
        open_session=open_session, shop_id=actor.shop_id, filters=filters, reveal=reveal
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.csv"'},
    )


@router.post("/customers/imports", response_model=ImportResult)
async def import_customers(
    session: DbSession,
    actor: Annotated[Actor, requires(P.CUSTOMERS_IMPORT)],
    file: Annotated[UploadFile, File(description="CSV file, UTF-8 or GBK")],
    mapping: Annotated[str | None, Form(description='JSON object {"CSV column": "field"}')] = None,
    encoding: Annotated[Literal["auto", "utf-8", "gbk"], Form()] = "auto",
) -> ImportResult:
    """Import a CSV inline; valid rows are written, bad rows come back with line and reason."""
    columns: dict[str, str] = {}
    if mapping:
        try:
            columns = json.loads(mapping)
        except json.JSONDecodeError:
            raise InvalidInput("mapping is not valid JSON", field="mapping")
        if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise InvalidInput('mapping should be like {"手机号码": "phone"}', field="mapping")
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            "the file is larger than 50 MB; use `liveloop import customers` instead", field="file"
        )
    report = await imports.import_customers_csv(
        session=session,
        actor=actor,
        data=data,
        mapping=columns,
        encoding=encoding,
        source_name=file.filename,
    )
    return ImportResult(
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        duplicates=report.duplicates,
        failed=report.failed,
        ignored_columns=report.ignored_columns,
        errors=[
            ImportRowError(line=e.line, field=e.field, message=e.message) for e in report.errors
        ],
    )


@router.post("/customers/bulk-tag", response_model=BulkTagOut)
async def bulk_tag(data: BulkTagIn, session: DbSession, actor: Writer) -> BulkTagOut:
    customers, changed = await tags_service.bulk_tag(
        session=session,
        actor=actor,
        tag_ids=data.tag_ids,
        customer_ids=data.customer_ids,
        filters=data.filter,
        untag=data.action == "untag",
    )
    return BulkTagOut(
        action=data.action, tag_ids=data.tag_ids, customers=customers, changed=changed
    )


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: int, session: DbSession, actor: Reader) -> CustomerOut:
    customer = await service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    return CustomerOut.model_validate(customer)


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
async def update_customer(
    customer_id: int, data: CustomerUpdate, session: DbSession, actor: Writer
) -> CustomerOut:
    customer = await service.update_customer(
        session=session, actor=actor, customer_id=customer_id, data=data
    )
    return CustomerOut.model_validate(customer)


@router.delete("/customers/{customer_id}", response_model=CustomerOut)
async def delete_customer(
    customer_id: int, session: DbSession, actor: Annotated[Actor, requires(P.CUSTOMERS_DELETE)]
) -> CustomerOut:
    customer = await service.delete_customer(session=session, actor=actor, customer_id=customer_id)
    return CustomerOut.model_validate(customer)


@router.get("/customers/{customer_id}/pii", response_model=CustomerPii)
async def reveal_pii(
    customer_id: int,
    session: DbSession,
    actor: Annotated[Actor, requires(P.CUSTOMERS_REVEAL_PII)],
) -> CustomerPii:
    """The clear phone numbers, e-mails and channel ids; every call is audited."""
    revealed = await service.reveal_pii(session=session, actor=actor, customer_id=customer_id)
    return CustomerPii(
        customer_id=customer_id,
        identities=[
            IdentityRevealed(id=identity.id, channel=identity.channel, value=value)
            for identity, value in revealed
        ],
    )


@router.post("/customers/{customer_id}/identities", response_model=IdentityOut, status_code=201)
async def add_identity(
    customer_id: int, data: IdentityIn, session: DbSession, actor: Writer
) -> IdentityOut:
    identity = await service.add_identity(
        session=session,
        actor=actor,
        customer_id=customer_id,
        channel=data.channel,
        value=data.value,
    )
    return IdentityOut.model_validate(identity)


@router.delete("/customers/{customer_id}/identities/{identity_id}", status_code=204)
async def remove_identity(
    customer_id: int, identity_id: int, session: DbSession, actor: Writer
) -> Response:
    await service.remove_identity(
        session=session, actor=actor, customer_id=customer_id, identity_id=identity_id
    )
    return Response(status_code=204)


@router.put("/customers/{customer_id}/tags/{tag_id}", response_model=CustomerOut)
async def tag_customer(
    customer_id: int, tag_id: int, session: DbSession, actor: Writer
) -> CustomerOut:
    await tags_service.tag_customer(
        session=session, actor=actor, customer_id=customer_id, tag_id=tag_id
    )
    customer = await service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    return CustomerOut.model_validate(customer)


@router.delete("/customers/{customer_id}/tags/{tag_id}", response_model=CustomerOut)
async def untag_customer(
    customer_id: int, tag_id: int, session: DbSession, actor: Writer
) -> CustomerOut:
    await tags_service.untag_customer(
        session=session, actor=actor, customer_id=customer_id, tag_id=tag_id
    )
    customer = await service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    return CustomerOut.model_validate(customer)


@router.get("/customers/{customer_id}/timeline", response_model=PageOut[TimelineEntry])
async def customer_timeline(
    customer_id: int,
    session: DbSession,
    actor: Reader,
    types: Annotated[list[str] | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[TimelineEntry]:
    """Events of the customer and of every customer merged into it, newest first."""
    result = await timeline_service.customer_timeline(
        session=session,
        shop_id=actor.shop_id,
        customer_id=customer_id,
        types=types,
        page=page,
        per_page=per_page,
    )
    return PageOut[TimelineEntry](
        items=[
            TimelineEntry(
                id=event.id,
                type=event.type,
                customer_id=event.customer_id,
                occurred_at=event.occurred_at,
                live_session_id=getattr(event, "live_session_id", None),
                product_id=getattr(event, "product_id", None),
                properties=getattr(event, "properties", None) or {},
            )
            for event in result.items
        ],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@router.post("/customers/{customer_id}/merge", response_model=MergeOut, status_code=201)
async def merge_customers(
    customer_id: int, data: MergeIn, session: DbSession, actor: Merger
) -> MergeOut:
    """Merge customer `source_id` into this one (reversible: see /customer-merges/{id}/undo)."""
    merge = await merge_service.merge_customers(
        session=session, actor=actor, target_id=customer_id, source_id=data.source_id
    )
    return MergeOut.model_validate(merge)


@router.get("/customers/{customer_id}/merges", response_model=list[MergeOut])
async def list_merges(customer_id: int, session: DbSession, actor: Reader) -> list[MergeOut]:
    merges = await merge_service.list_merges(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    return [MergeOut.model_validate(m) for m in merges]


@router.post("/customer-merges/{merge_id}/undo", response_model=MergeOut)
async def unmerge_customers(merge_id: int, session: DbSession, actor: Merger) -> MergeOut:
    merge = await merge_service.unmerge_customers(session=session, actor=actor, merge_id=merge_id)
    return MergeOut.model_validate(merge)


@router.get("/tag-groups", response_model=list[TagGroupOut])
async def list_tag_groups(session: DbSession, actor: Reader) -> list[TagGroupOut]:
    groups = await tags_service.list_tag_groups(session=session, shop_id=actor.shop_id)
    return [TagGroupOut.model_validate(g) for g in groups]


@router.post("/tag-groups", response_model=TagGroupOut, status_code=201)
async def create_tag_group(data: TagGroupIn, session: DbSession, actor: TagManager) -> TagGroupOut:
    group = await tags_service.create_tag_group(session=session, actor=actor, data=data)
    return TagGroupOut.model_validate(group)


@router.patch("/tag-groups/{group_id}", response_model=TagGroupOut)
async def update_tag_group(
    group_id: int, data: TagGroupUpdate, session: DbSession, actor: TagManager
) -> TagGroupOut:
    group = await tags_service.update_tag_group(
        session=session, actor=actor, group_id=group_id, data=data
    )
    return TagGroupOut.model_validate(group)


@router.delete("/tag-groups/{group_id}", status_code=204)
async def delete_tag_group(group_id: int, session: DbSession, actor: TagManager) -> Response:
    await tags_service.delete_tag_group(session=session, actor=actor, group_id=group_id)
    return Response(status_code=204)


@router.get("/tags", response_model=list[TagOut])
async def list_tags(session: DbSession, actor: Reader, group_id: int | None = None) -> list[TagOut]:
    tags = await tags_service.list_tags(session=session, shop_id=actor.shop_id, group_id=group_id)
    return [TagOut.model_validate(t) for t in tags]


@router.post("/tags", response_model=TagOut, status_code=201)
async def create_tag(data: TagIn, session: DbSession, actor: TagManager) -> TagOut:
    return TagOut.model_validate(
        await tags_service.create_tag(session=session, actor=actor, data=data)
    )


@router.patch("/tags/{tag_id}", response_model=TagOut)
async def update_tag(tag_id: int, data: TagUpdate, session: DbSession, actor: TagManager) -> TagOut:
    return TagOut.model_validate(
        await tags_service.update_tag(session=session, actor=actor, tag_id=tag_id, data=data)
    )


@router.delete("/tags/{tag_id}", status_code=204)
async def delete_tag(tag_id: int, session: DbSession, actor: TagManager) -> Response:
    await tags_service.delete_tag(session=session, actor=actor, tag_id=tag_id)
    return Response(status_code=204)
