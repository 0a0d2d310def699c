"""JSON routes of the script library (/api/v1/scripts): categories, entries, search, the
variables, and one use filled for a customer (which counts it).

Reading and using needs `customers.read`; keeping shop-wide entries and categories needs
`outreach.manage` (checked in the service, where a personal entry is its owner's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from liveloop.core.deps import DbSession
from liveloop.core.schemas import PageOut
from liveloop.outreach.scripts import service
from liveloop.outreach.scripts.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    EntryIn,
    EntryOut,
    EntryPatch,
    UseIn,
    UseOut,
    VariableOut,
)
from liveloop.outreach.scripts.variables import VARIABLES
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/scripts", tags=["script library"], dependencies=[Depends(current_actor)]
)

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Manager = Annotated[Actor, requires(P.OUTREACH_MANAGE)]


@router.get("/variables", response_model=list[VariableOut])
async def variables(actor: Reader) -> Any:
    return [{"name": v.name, "aliases": list(v.aliases), "label": v.label} for v in VARIABLES]


@router.get("/categories", response_model=list[CategoryOut])
async def categories(session: DbSession, actor: Reader) -> Any:
    return await service.list_categories(session=session, actor=actor)


@router.post("/categories", response_model=CategoryOut, status_code=201)
async def create_category(data: CategoryIn, session: DbSession, actor: Manager) -> Any:
    return await service.create_category(session=session, actor=actor, data=data)


@router.patch("/categories/{script_category_id}", response_model=CategoryOut)
async def update_category(
    script_category_id: int, data: CategoryPatch, session: DbSession, actor: Reader
) -> Any:
    return await service.update_category(
        session=session, actor=actor, category_id=script_category_id, data=data
    )


@router.delete("/categories/{script_category_id}", status_code=204)
async def delete_category(script_category_id: int, session: DbSession, actor: Reader) -> Response:
    await service.delete_category(session=session, actor=actor, category_id=script_category_id)
    return Response(status_code=204)


@router.get("", response_model=PageOut[EntryOut])
async def search(
    session: DbSession,
    actor: Reader,
    q: Annotated[str, Query(max_length=200, description="a question, in Chinese or not")] = "",
    category_id: Annotated[int | None, Query(ge=1)] = None,
    scope: Annotated[str | None, Query(pattern="^(shop|personal)$")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    """Best matches first (most words of the question, then most used)."""
    hits = await service.search_entries(
        session=session,
        actor=actor,
        q=q,
        category_id=category_id,
        scope=scope,
        page=page,
        per_page=per_page,
    )
    return {
        "items": hits.items, "total": hits.total, "page": hits.page,
        "per_page": hits.per_page, "pages": hits.pages,
    }  # fmt: skip


@router.post("", response_model=EntryOut, status_code=201)
async def create(data: EntryIn, session: DbSession, actor: Reader) -> EntryOut:
    entry = await service.create_entry(session=session, actor=actor, data=data)
    return service.entry_out(entry)


@router.get("/{script_id}", response_model=EntryOut)
async def read(script_id: int, session: DbSession, actor: Reader) -> EntryOut:
    entry = await service.access_entry(session=session, actor=actor, entry_id=script_id)
    return service.entry_out(entry)


@router.patch("/{script_id}", response_model=EntryOut)
async def update(script_id: int, data: EntryPatch, session: DbSession, actor: Reader) -> EntryOut:
    entry = await service.update_entry(session=session, actor=actor, entry_id=script_id, data=data)
    return service.entry_out(entry)


@router.delete("/{script_id}", status_code=204)
async def delete(script_id: int, session: DbSession, actor: Reader) -> Response:
    await service.delete_entry(session=session, actor=actor, entry_id=script_id)
    return Response(status_code=204)


@router.post("/{script_id}/use", response_model=UseOut)
async def use(script_id: int, data: UseIn, session: DbSession, actor: Reader) -> UseOut:
    """The entry filled for `customer_id` (variables without a value get a fallback and are
    listed in `missing`); counts one use."""
    return await service.use_entry(
        session=session, actor=actor, entry_id=script_id, customer_id=data.customer_id
    )
