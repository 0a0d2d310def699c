"""Console pages of customers: list and filters, detail, tags, merge, import and export."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError

from liveloop.catalog import service as catalog_service
from liveloop.core.deps import DbSession, SessionOpener
from liveloop.core.errors import Conflict, InvalidInput, LiveLoopError, NotFound
from liveloop.core.schemas import parse_id
from liveloop.customers import exports, imports, service
from liveloop.customers import merge as merge_service
from liveloop.customers import tags as tags_service
from liveloop.customers.communities import service as communities_service
from liveloop.customers.models import CHANNELS
from liveloop.customers.points import pages as points_pages
from liveloop.customers.rfm.pages import customer_value_card
from liveloop.customers.schemas import (
    CustomerCreate,
    CustomerFilter,
    CustomerUpdate,
    IdentityIn,
    TagGroupIn,
    TagGroupUpdate,
    TagIn,
    TagUpdate,
)
from liveloop.events import service as events_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web import timeline as timeline_words
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, gettext_for, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]
TagManager = Annotated[Actor, console_requires(P.TAGS_MANAGE)]
Merger = Annotated[Actor, console_requires(P.CUSTOMERS_MERGE)]
Revealer = Annotated[Actor, console_requires(P.CUSTOMERS_REVEAL_PII)]
Importer = Annotated[Actor, console_requires(P.CUSTOMERS_IMPORT)]
Exporter = Annotated[Actor, console_requires(P.CUSTOMERS_EXPORT)]

PER_PAGE = 20
TIMELINE_LENGTH = 30
MAX_IMPORT_BYTES = 50 * 1024 * 1024
RESULTS_TARGET = "customer-results"
PHONE_LIKE = re.compile(r"^\+?[\d\s-]{6,20}$")

CHANNEL_LABELS = {
    "wecom": N_("WeCom"),
    "wechat_openid": N_("WeChat"),
    "wechat_unionid": N_("WeChat (UnionID)"),
    "douyin": N_("Douyin"),
    "miniprogram": N_("Mini program"),
    "phone": N_("Phone"),
    "email": N_("E-mail"),
}
GENDER_LABELS = {"male": N_("Male"), "female": N_("Female"), "other": N_("Other")}


def _labels(request: Request, labels: dict[str, str]) -> dict[str, str]:
    return {key: translate(request, text) for key, text in labels.items()}


def _error_text(exc: LiveLoopError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg'].removeprefix('Value error, ')}"
    return exc.message


# --- list ------------------------------------------------------------------------------------


def _local_day(value: str) -> dt.datetime | None:
    """'2024-05-01' -> naive midnight, read in the shop's time zone by the service."""
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time()) if value else None
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date like 2024-05-01", field="date")


def tag_ids(values: list[str] | None) -> list[int]:
    """The tag filter's values; the "any tag" option sends an empty one, which means none."""
    try:
        return [int(value) for value in values or () if value.strip()]
    except ValueError:
        raise InvalidInput("a tag filter must be a tag id", field="tag")


def list_filter(
    q: str = "",
    tag: Annotated[list[str] | None, Query()] = None,
    channel: str = "",
    source: str = "",
    joined_from: str = "",
    joined_to: str = "",
) -> tuple[dict[str, Any], CustomerFilter]:
    """The form's fields (to refill it) and the service's filter. One search box: a value that
    looks like a phone number searches phones, anything else searches names."""
    form = {
        "q": q.strip(),
        "tag": tag_ids(tag),
        "channel": channel,
        "source": source,
        "joined_from": joined_from,
        "joined_to": joined_to,
    }
    phone = form["q"] if PHONE_LIKE.match(form["q"]) else None
    to_day = _local_day(joined_to)
    try:
        filters = CustomerFilter(
            q=None if phone else (form["q"] or None),
            phone=phone,
            tag_ids=form["tag"],
            channel=channel if channel in CHANNELS else None,
            source=source or None,
            created_from=_local_day(joined_from),
            created_to=to_day + dt.timedelta(days=1) if to_day else None,
        )
    except ValidationError as exc:
        raise InvalidInput(_error_text(exc), field="q")
    return form, filters


@pages.get("/customers", response_class=HTMLResponse)
async def customer_list(
    request: Request,
    session: DbSession,
    actor: Reader,
    q: str = "",
    tag: Annotated[list[str] | None, Query()] = None,
    channel: str = "",
    source: str = "",
    joined_from: str = "",
    joined_to: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    form: dict[str, Any] = {"q": q, "tag": [], "channel": channel, "source": source}
    form.update(joined_from=joined_from, joined_to=joined_to)
    error, result = None, None
    try:
        form, filters = list_filter(q, tag, channel, source, joined_from, joined_to)
        result = await service.search_customers(
            session=session, shop_id=actor.shop_id, filters=filters, page=page, per_page=PER_PAGE
        )
    except InvalidInput as exc:
        error = exc.message
    context = {
        "form": form,
        "page": result,
        "error": error,
        "tags": await tags_service.list_tags(session=session, shop_id=actor.shop_id),
        "channels": _labels(request, CHANNEL_LABELS),
        "results_target": RESULTS_TARGET,
        "title": translate(request, N_("Customers")),
    }
    partial = request.headers.get("hx-target") == RESULTS_TARGET
    template = "customers/_results.html" if partial else "customers/list.html"
    return render(request, template, context, status_code=422 if error else 200)


@pages.post("/customers/bulk-tag")
async def bulk_tag_customers(
    request: Request,
    session: DbSession,
    actor: TagManager,
    tag_id: Annotated[int, Form()],
    action: Annotated[Literal["tag", "untag"], Form()] = "tag",
    customer_ids: Annotated[list[int] | None, Form()] = None,
    q: Annotated[str, Form()] = "",
    tag: Annotated[list[str] | None, Form()] = None,
    channel: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    joined_from: Annotated[str, Form()] = "",
    joined_to: Annotated[str, Form()] = "",
) -> Response:
    """Tag or untag the ticked customers, or every customer the list's filters match."""
    back: dict[str, Any] = {"q": q, "tag": [t for t in tag or () if t.strip()], "channel": channel}
    back["source"] = source
    back.update(joined_from=joined_from, joined_to=joined_to)
    try:
        _form, filters = list_filter(q, tag, channel, source, joined_from, joined_to)
        customers, changed = await tags_service.bulk_tag(
            session=session,
            actor=actor,
            tag_ids=[tag_id],
            customer_ids=customer_ids or None,
            filters=filters,
            untag=action == "untag",
        )
    except (InvalidInput, NotFound, ValidationError) as exc:
        flash(request, _error_text(exc), "error")
    else:
        done = (
            N_("Removed the tag from %(changed)s of %(customers)s customers.")
            if action == "untag"
            else N_("Tagged %(changed)s of %(customers)s customers (the others had it already).")
        )
        flash(request, translate(request, done) % {"changed": changed, "customers": customers})
    query = urlencode(
        [(k, v) for k, v in back.items() if not isinstance(v, list) and v]
        + [("tag", t) for t in back["tag"]]
    )
    return redirect("/console/customers" + (f"?{query}" if query else ""))


@pages.get("/customers/export.csv")
async def export_customers(
    request: Request,
    session: DbSession,
    open_session: SessionOpener,
    actor: Exporter,
    q: str = "",
    tag: Annotated[list[str] | None, Query()] = None,
    channel: str = "",
    source: str = "",
    joined_from: str = "",
    joined_to: str = "",
) -> StreamingResponse:
    """The filtered list as CSV with phone and e-mail masked; the export is audited."""
    _, filters = list_filter(q, tag, channel, source, joined_from, joined_to)
    filters, _ = await exports.start_export(session=session, actor=actor, filters=filters)
    lines = exports.export_csv_lines(
        open_session=open_session, shop_id=actor.shop_id, filters=filters
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.csv"'},
    )


# --- create ----------------------------------------------------------------------------------


async def _new_page(
    request: Request, session: DbSession, actor: Actor, form: dict[str, Any], error: str | None
) -> HTMLResponse:
    return render(
        request,
        "customers/new.html",
        {
            "form": form,
            "error": error,
            "tags": await tags_service.list_tags(session=session, shop_id=actor.shop_id),
            "genders": _labels(request, GENDER_LABELS),
            "title": translate(request, N_("New customer")),
        },
        status_code=422 if error else 200,
    )


@pages.get("/customers/new", response_class=HTMLResponse)
async def new_customer(request: Request, session: DbSession, actor: Writer) -> HTMLResponse:
    return await _new_page(request, session, actor, {"tag": []}, None)


@pages.post("/customers", response_class=HTMLResponse)
async def create_customer(request: Request, session: DbSession, actor: Writer) -> Response:
    form = await request.form()
    values = {
        k: str(form.get(k) or "").strip()
        for k in ("display_name", "phone", "email", "gender", "city", "notes")
    }
    values["tag"] = [i for t in form.getlist("tag") if (i := parse_id(str(t))) is not None]
    try:
        identities = [
            IdentityIn(channel=channel, value=values[channel])  # type: ignore[arg-type]
            for channel in ("phone", "email")
            if values[channel]
        ]
        data = CustomerCreate(
            display_name=values["display_name"] or None,
            gender=values["gender"] or None,  # type: ignore[arg-type]
            city=values["city"] or None,
            notes=values["notes"] or None,
            source_channel="console",
            identities=identities,
            tag_ids=values["tag"],
        )
        customer = await service.create_customer(session=session, actor=actor, data=data)
    except (InvalidInput, Conflict, NotFound, ValidationError) as exc:
        return await _new_page(request, session, actor, values, _error_text(exc))
    flash(request, translate(request, N_("Customer added.")))
    return redirect(f"/console/customers/{customer.id}")


# --- import ----------------------------------------------------------------------------------


@pages.get("/customers/import", response_class=HTMLResponse)
async def import_form(request: Request, actor: Importer) -> HTMLResponse:
    return render(
        request,
        "customers/import.html",
        {"report": None, "error": None, "title": translate(request, N_("Import customers"))},
    )


@pages.post("/customers/import", response_class=HTMLResponse)
async def import_customers(
    request: Request,
    session: DbSession,
    actor: Importer,
    file: Annotated[UploadFile | None, File()] = None,
    encoding: Annotated[str, Form()] = "auto",
) -> HTMLResponse:
    """Valid rows are written; the page lists counts and every rejected row with its reason."""
    error, report = None, None
    data = await file.read(MAX_IMPORT_BYTES + 1) if file is not None else b""
    if not data:
        error = translate(request, N_("Choose a CSV file to import."))
    elif len(data) > MAX_IMPORT_BYTES:
        error = translate(
            request, N_("The file is larger than 50 MB; use the command line import.")
        )
    else:
        try:
            report = await imports.import_customers_csv(
                session=session,
                actor=actor,
                data=data,
                encoding=encoding if encoding in ("auto", "utf-8", "gbk") else "auto",
                source_name=file.filename if file else None,
            )
        except InvalidInput as exc:
            error = exc.message
    return render(
        request,
        "customers/import.html",
        {"report": report, "error": error, "title": translate(request, N_("Import customers"))},
        status_code=422 if error else 200,
    )


# --- detail ----------------------------------------------------------------------------------


async def _timeline(
    request: Request, session: DbSession, shop_id: int, events: list[Any]
) -> list[timeline_words.TimelineEntry]:
    """The page's events in words: product names and SKU specs looked up once for the page."""
    names = await catalog_service.get_product_names(
        session=session, shop_id=shop_id, product_ids=timeline_words.product_ids_of(events)
    )
    skus = await catalog_service.get_skus(
        session=session, shop_id=shop_id, sku_ids=list(timeline_words.sku_ids_of(events))
    )
    return timeline_words.describe_events(
        events,
        gettext=gettext_for(request).gettext,
        product_names=names,
        sku_labels={sku_id: sku.spec_label for sku_id, sku in skus.items() if sku.spec_label},
    )


async def _detail_context(
    request: Request, session: DbSession, actor: Actor, customer_id: int, before: int | None = None
) -> dict[str, Any]:
    customer = await service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    # The timeline covers every customer merged into this one; one extra row tells if more.
    ids = await merge_service.merged_customer_ids(
        session=session, shop_id=actor.shop_id, customer_id=customer.id
    )
    events = await events_service.customer_timeline(
        session=session,
        shop_id=actor.shop_id,
        customer_ids=ids,
        limit=TIMELINE_LENGTH + 1,
        before_id=before,
    )
    tagged = {link.tag_id for link in customer.tag_links}
    all_tags = await tags_service.list_tags(session=session, shop_id=actor.shop_id)
    return {
        "customer": customer,
        "revealed": None,
        "timeline": await _timeline(request, session, actor.shop_id, events[:TIMELINE_LENGTH]),
        "older": events[TIMELINE_LENGTH - 1].id if len(events) > TIMELINE_LENGTH else None,
        "newest_first": before is None,
        "merges": await merge_service.list_merges(
            session=session, shop_id=actor.shop_id, customer_id=customer.id
        ),
        "available_tags": [t for t in all_tags if t.id not in tagged],
        "value_card": await customer_value_card(request, session, actor.shop_id, customer.id),
        "customer_communities": await communities_service.customer_communities(
            session=session, shop_id=actor.shop_id, customer_id=customer.id
        ),
        "channels": _labels(request, CHANNEL_LABELS),
        "genders": _labels(request, GENDER_LABELS),
        "title": customer.display_name or translate(request, N_("Customer %(id)s"), id=customer.id),
        "points": await points_pages.customer_panel(session, actor.shop_id, customer.id),
    }


@pages.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_detail(
    request: Request,
    customer_id: int,
    session: DbSession,
    actor: Reader,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    context = await _detail_context(request, session, actor, customer_id, before)
    return render(request, "customers/detail.html", context)


@pages.post("/customers/{customer_id}/reveal", response_class=HTMLResponse)
async def reveal_identities(
    request: Request, customer_id: int, session: DbSession, actor: Revealer
) -> HTMLResponse:
    """Clear phone numbers and e-mails for this response only; the service audits the reveal."""
    revealed = await service.reveal_pii(session=session, actor=actor, customer_id=customer_id)
    context = await _detail_context(request, session, actor, customer_id)
    context["revealed"] = {identity.id: value for identity, value in revealed}
    template = (
        "customers/_identities.html"
        if request.headers.get("hx-request")
        else "customers/detail.html"
    )
    return render(request, template, context)


@pages.post("/customers/{customer_id}", response_class=HTMLResponse)
async def update_customer(
    request: Request, customer_id: int, session: DbSession, actor: Writer
) -> Response:
    form = await request.form()
    fields = ("display_name", "gender", "province", "city", "notes")
    values = {name: (str(form.get(name) or "").strip() or None) for name in fields}
    try:
        data = CustomerUpdate.model_validate(values)
        await service.update_customer(
            session=session, actor=actor, customer_id=customer_id, data=data
        )
    except (InvalidInput, Conflict, ValidationError) as exc:
        flash(request, _error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Profile saved.")))
    return redirect(f"/console/customers/{customer_id}")


@pages.post("/customers/{customer_id}/identities")
async def add_identity(
    request: Request,
    customer_id: int,
    session: DbSession,
    actor: Writer,
    channel: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    try:
        identity = IdentityIn.model_validate({"channel": channel, "value": value.strip()})
        await service.add_identity(
            session=session,
            actor=actor,
            customer_id=customer_id,
            channel=identity.channel,
            value=identity.value,
        )
    except (InvalidInput, Conflict, ValidationError) as exc:
        flash(request, _error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Identity added.")))
    return redirect(f"/console/customers/{customer_id}")


@pages.post("/customers/{customer_id}/tags")
async def tag_customer(
    request: Request,
    customer_id: int,
    session: DbSession,
    actor: Writer,
    tag_id: Annotated[int, Form()] = 0,
) -> Response:
    try:
        await tags_service.tag_customer(
            session=session, actor=actor, customer_id=customer_id, tag_id=tag_id
        )
    except (Conflict, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.code == "customer_not_found":
            raise
        flash(request, exc.message, "error")
    return redirect(f"/console/customers/{customer_id}")


@pages.post("/customers/{customer_id}/tags/{tag_id}/remove")
async def untag_customer(
    request: Request, customer_id: int, tag_id: int, session: DbSession, actor: Writer
) -> Response:
    try:
        await tags_service.untag_customer(
            session=session, actor=actor, customer_id=customer_id, tag_id=tag_id
        )
    except Conflict as exc:
        flash(request, exc.message, "error")
    return redirect(f"/console/customers/{customer_id}")


@pages.post("/customers/{customer_id}/merge")
async def merge_customer(
    request: Request,
    customer_id: int,
    session: DbSession,
    actor: Merger,
    source_id: Annotated[str, Form()] = "",
) -> Response:
    """Merge another customer (by id) into this one."""
    try:
        source = parse_id(source_id)
        if source is None:
            raise InvalidInput(translate(request, N_("Enter the id of the customer to merge in.")))
        await merge_service.merge_customers(
            session=session, actor=actor, target_id=customer_id, source_id=source
        )
    except (InvalidInput, Conflict, NotFound) as exc:
        if exc.code == "customer_not_found" and exc.field == "id":
            raise
        flash(request, exc.message, "error")
    else:
        flash(
            request,
            translate(request, N_("Customer %(id)s merged into this one."), id=source_id.strip()),
        )
    return redirect(f"/console/customers/{customer_id}")


@pages.post("/customer-merges/{merge_id}/undo")
async def undo_merge(
    request: Request, merge_id: int, session: DbSession, actor: Merger
) -> Response:
    try:
        merge = await merge_service.unmerge_customers(
            session=session, actor=actor, merge_id=merge_id
        )
    except (InvalidInput, Conflict) as exc:
        flash(request, exc.message, "error")
        return redirect("/console/customers")
    flash(request, translate(request, N_("Merge undone.")))
    return redirect(f"/console/customers/{merge.target_id}")


# --- tags ------------------------------------------------------------------------------------


@pages.get("/tags", response_class=HTMLResponse)
async def tag_list(request: Request, session: DbSession, actor: Reader) -> HTMLResponse:
    groups = await tags_service.list_tag_groups(session=session, shop_id=actor.shop_id)
    tags = await tags_service.list_tags(session=session, shop_id=actor.shop_id)
    grouped: dict[int | None, list[Any]] = {}
    for tag in tags:
        grouped.setdefault(tag.group_id, []).append(tag)
    return render(
        request,
        "customers/tags.html",
        {
            "groups": groups,
            "grouped": grouped,
            "counts": await tags_service.tag_counts(session=session, shop_id=actor.shop_id),
            "title": translate(request, N_("Tags")),
        },
    )


def _color(value: str) -> str | None:
    value = value.strip()
    return value or None


async def _tag_write(request: Request, action: Any, done: str) -> Response:
    """Run one tag or group change; the outcome (or why it failed) is flashed on the tag page."""
    try:
        await action
    except (InvalidInput, Conflict, ValidationError) as exc:
        flash(request, _error_text(exc), "error")
    else:
        flash(request, translate(request, done))
    return redirect("/console/tags")


def _model(schema: Any, **values: Any) -> Any:
    return schema.model_validate({k: v for k, v in values.items() if v is not None})


@pages.post("/tags/groups")
async def create_tag_group(
    request: Request,
    session: DbSession,
    actor: TagManager,
    name: Annotated[str, Form()] = "",
    color: Annotated[str, Form()] = "",
) -> Response:
    async def write() -> None:
        data = _model(TagGroupIn, name=name.strip(), color=_color(color))
        await tags_service.create_tag_group(session=session, actor=actor, data=data)

    return await _tag_write(request, write(), N_("Tag group created."))


@pages.post("/tags/groups/{group_id}")
async def update_tag_group(
    request: Request,
    group_id: int,
    session: DbSession,
    actor: TagManager,
    name: Annotated[str, Form()] = "",
    color: Annotated[str, Form()] = "",
) -> Response:
    async def write() -> None:
        data = _model(TagGroupUpdate, name=name.strip() or None, color=_color(color))
        await tags_service.update_tag_group(
            session=session, actor=actor, group_id=group_id, data=data
        )

    return await _tag_write(request, write(), N_("Tag group saved."))


@pages.post("/tags/groups/{group_id}/delete")
async def delete_tag_group(
    request: Request, group_id: int, session: DbSession, actor: TagManager
) -> Response:
    write = tags_service.delete_tag_group(session=session, actor=actor, group_id=group_id)
    return await _tag_write(request, write, N_("Tag group deleted."))


@pages.post("/tags")
async def create_tag(
    request: Request,
    session: DbSession,
    actor: TagManager,
    name: Annotated[str, Form()] = "",
    color: Annotated[str, Form()] = "",
    group_id: Annotated[str, Form()] = "",
) -> Response:
    async def write() -> None:
        data = _model(TagIn, name=name.strip(), color=_color(color), group_id=parse_id(group_id))
        await tags_service.create_tag(session=session, actor=actor, data=data)

    return await _tag_write(request, write(), N_("Tag created."))


@pages.post("/tags/{tag_id}")
async def update_tag(
    request: Request,
    tag_id: int,
    session: DbSession,
    actor: TagManager,
    name: Annotated[str, Form()] = "",
    color: Annotated[str, Form()] = "",
    group_id: Annotated[str, Form()] = "",
) -> Response:
    async def write() -> None:
        data = TagUpdate.model_validate(
            {"name": name.strip() or None, "color": _color(color), "group_id": parse_id(group_id)}
        )
        await tags_service.update_tag(session=session, actor=actor, tag_id=tag_id, data=data)

    return await _tag_write(request, write(), N_("Tag saved."))


@pages.post("/tags/{tag_id}/delete")
async def delete_tag(
    request: Request, tag_id: int, session: DbSession, actor: TagManager
) -> Response:
    write = tags_service.delete_tag(session=session, actor=actor, tag_id=tag_id)
    return await _tag_write(request, write, N_("Tag deleted."))


router.include_router(pages)
