"""Console page of RFM and lifecycle: distributions, stage flows, settings, recompute."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.customers.rfm import service
from liveloop.customers.rfm.service import LifecycleRules
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor, record_audit
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render, request_language

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/rfm")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]
FLOW_DAYS = 30


def labels_for(request: Request, labels: dict[str, tuple[str, str]]) -> dict[str, str]:
    """{key: label} in the page's language (zh_CN or en)."""
    index = 0 if request_language(request).startswith("zh") else 1
    return {key: pair[index] for key, pair in labels.items()}


def int_list(text: str, field: str) -> list[int]:
    values = []
    for part in text.replace("，", ",").replace(" ", ",").split(","):
        if part.strip():
            if not part.strip().isdigit():
                raise InvalidInput(f"{part!r} is not a whole number", field=field)
            values.append(int(part))
    return values


def whole_number(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(f"{text!r} is not a whole number", field=field)
    return int(text)


@pages.get("", response_class=HTMLResponse)
async def overview(
    request: Request, session: DbSession, actor: Reader, error: str = ""
) -> HTMLResponse:
    settings = await service.get_settings(session=session, shop_id=actor.shop_id)
    segments = await service.rfm_distribution(session=session, shop_id=actor.shop_id)
    stages = await service.lifecycle_distribution(session=session, shop_id=actor.shop_id)
    flows = await service.stage_flows(
        session=session, shop_id=actor.shop_id, since=utcnow() - dt.timedelta(days=FLOW_DAYS)
    )
    segment_labels = labels_for(request, service.SEGMENT_LABELS)
    stage_labels = labels_for(request, service.STAGE_LABELS)
    empty = translate(request, N_("Not computed yet: press Recompute."))
    return render(
        request,
        "customers/rfm/overview.html",
        {
            "settings": settings,
            "rules": LifecycleRules.of(settings.lifecycle),
            "m_yuan": ", ".join(str(fen // 100) for fen in settings.m_thresholds),
            "segments": segments,
            "stages": stages,
            "flows": flows,
            "flow_days": FLOW_DAYS,
            "segment_labels": segment_labels,
            "stage_labels": stage_labels,
            "segment_chart": {
                "labels": [segment_labels[k] for k in segments],
                "values": list(segments.values()),
                "empty": empty,
            },
            "stage_chart": {
                "labels": [stage_labels[k] for k in stages],
                "values": list(stages.values()),
                "empty": empty,
            },
            "error": error,
            "title": translate(request, N_("RFM and lifecycle")),
        },
    )


@pages.post("/recompute")
async def recompute(request: Request, session: DbSession, actor: Writer) -> Response:
    now = utcnow()
    stats = await service.recompute_rfm(session=session, shop_id=actor.shop_id, now=now)
    stages = await service.recompute_lifecycle(session=session, shop_id=actor.shop_id, now=now)
    flash(
        request,
        translate(
            request,
            N_(
                "Recomputed %(customers)s customers (%(buyers)s buyers); %(changed)s changed stage."
            ),
            customers=stats.customers,
            buyers=stats.buyers,
            changed=stages.changed,
        ),
    )
    return redirect("/console/rfm")


@pages.post("/settings")
async def save_settings(
    request: Request,
    session: DbSession,
    actor: Writer,
    window_days: Annotated[str, Form()] = "",
    scoring: Annotated[str, Form()] = "",
    r_thresholds: Annotated[str, Form()] = "",
    f_thresholds: Annotated[str, Form()] = "",
    m_thresholds_yuan: Annotated[str, Form()] = "",
    new_days: Annotated[str, Form()] = "",
    active_days: Annotated[str, Form()] = "",
    churn_days: Annotated[str, Form()] = "",
    recalled_days: Annotated[str, Form()] = "",
    high_value_spend_yuan: Annotated[str, Form()] = "",
) -> Response:
    try:
        # A refused value undoes the ones before it (the form is saved whole or not at all).
        async with session.begin_nested():
            lifecycle: dict[str, Any] = {}
            for name, text in (
                ("new_days", new_days),
                ("active_days", active_days),
                ("churn_days", churn_days),
                ("recalled_days", recalled_days),
            ):
                value = whole_number(text, name)
                if value is not None:
                    lifecycle[name] = value
            spend = whole_number(high_value_spend_yuan, "high_value_spend_yuan")
            lifecycle["high_value_spend_fen"] = None if spend is None else spend * 100
            await service.update_settings(
                session=session,
                shop_id=actor.shop_id,
                window_days=whole_number(window_days, "window_days"),
                scoring=scoring or None,
                r_thresholds=int_list(r_thresholds, "r_thresholds"),
                f_thresholds=int_list(f_thresholds, "f_thresholds"),
                m_thresholds=[v * 100 for v in int_list(m_thresholds_yuan, "m_thresholds")],
                lifecycle=lifecycle,
            )
            await record_audit(
                session=session,
                actor=actor,
                action="rfm.settings",
                target_type="shop",
                target_id=actor.shop_id,
                details={"window_days": window_days, "scoring": scoring},
            )
    except InvalidInput as exc:
        flash(request, f"{exc.field}: {exc.message}" if exc.field else exc.message, "error")
    else:
        flash(
            request, translate(request, N_("Settings saved; they apply from the next recompute."))
        )
    return redirect("/console/rfm")


async def customer_value_card(
    request: Request, session: Any, shop_id: int, customer_id: int
) -> dict[str, Any]:
    """What the customer page shows of RFM, lifecycle and tag-rule history."""
    from liveloop.customers.tagrules import service as tagrules_service

    rfm = await service.get_customer_rfm(session=session, shop_id=shop_id, customer_id=customer_id)
    stage = await service.get_customer_lifecycle(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    changes = await tagrules_service.list_tag_changes(
        session=session, shop_id=shop_id, customer_id=customer_id, limit=10
    )
    return {
        "rfm": rfm,
        "stage": stage,
        "transitions": await service.list_transitions(
            session=session, shop_id=shop_id, customer_id=customer_id, limit=5
        ),
        "tag_changes": changes,
        "tag_names": await tagrules_service.tag_names(session=session, shop_id=shop_id)
        if changes
        else {},
        "segment_labels": labels_for(request, service.SEGMENT_LABELS),
        "stage_labels": labels_for(request, service.STAGE_LABELS),
    }


router.include_router(pages)
