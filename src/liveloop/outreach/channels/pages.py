"""Console pages of the shop's outreach channels (/console/outreach/channels): the list, a form
per kind of channel to add one, and a channel's page (rename, rate, enable, replace a secret,
send a test). Secrets go in and are never drawn back into a page.

Each kind's fields are named `<kind>.<key>` (`webhook.url`, `sms.url`), so one plain form can
hold every kind's fields (Alpine shows the chosen kind's) and the server reads only the chosen
kind's. Checks are the service's own (`check_config`); its field (`config.url`) is drawn beside
the input it names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.outreach.broadcasts.pages import FormErrors, page_labels
from liveloop.outreach.channels import api as channel_api
from liveloop.outreach.channels import service as channel_service
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.channels.schemas import ChannelIn, ChannelPatch, TestSendIn
from liveloop.outreach.channels.senders import SMTP_SECURITY
from liveloop.outreach.contracts import ChannelKind
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, form_error_text, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/outreach")
Manager = Annotated[Actor, console_requires(P.OUTREACH_MANAGE)]


@dataclass(frozen=True)
class ChannelField:
    """One input of a kind's form: a config key, or (secret=True) a key of the secret."""

    key: str
    label: str
    input: str = "text"  # text, number, url, email, select, list (comma-separated), json
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()
    hint: str = ""


def _wecom(kind: ChannelKind) -> tuple[ChannelField, ...]:
    return (
        ChannelField("corpid", N_("Corp ID (corpid)"), required=True),
        ChannelField(
            "sender",
            N_("Sender (staff userid)"),
            required=kind is ChannelKind.WECOM_GROUP,
            hint=N_("The staff member whose WeCom app confirms the mass message."),
        ),
        ChannelField("corpsecret", N_("App secret (corpsecret)"), required=True, secret=True),
        ChannelField(
            "api_base",
            N_("API base URL"),
            input="url",
            hint=N_("Leave blank for qyapi.weixin.qq.com."),
        ),
    )


KIND_FIELDS: dict[ChannelKind, tuple[ChannelField, ...]] = {
    ChannelKind.EMAIL: (
        ChannelField(
            "transport",
            N_("Transport"),
            input="select",
            choices=("smtp", "mailbox"),
            hint=N_("mailbox writes to a local file and sends nothing (for trying things out)."),
        ),
        ChannelField("host", N_("SMTP host"), hint=N_("Needed with smtp.")),
        ChannelField("port", N_("Port"), input="number", hint=N_("Blank: 587, or 465 with SSL.")),
        ChannelField("security", N_("TLS mode"), input="select", choices=SMTP_SECURITY),
        ChannelField("username", N_("User name")),
        ChannelField("password", N_("Password"), secret=True),
        ChannelField("from_addr", N_("From address"), input="email", required=True),
        ChannelField("from_name", N_("From name")),
    ),
    ChannelKind.WEBHOOK: (
        ChannelField("url", N_("Receiver URL"), input="url", required=True),
        ChannelField(
            "signing_secret",
            N_("Signing secret"),
            required=True,
            secret=True,
            hint=N_("Your receiver checks the X-LiveLoop-Signature header with it."),
        ),
    ),
    ChannelKind.WECOM_CUSTOMER: _wecom(ChannelKind.WECOM_CUSTOMER),
    ChannelKind.WECOM_GROUP: _wecom(ChannelKind.WECOM_GROUP),
    ChannelKind.SMS: (
        ChannelField("url", N_("Provider URL"), input="url", required=True),
        ChannelField("api_key", N_("API key"), secret=True),
        ChannelField("api_key_header", N_("Header of the key"), hint=N_("Blank: Authorization.")),
        ChannelField(
            "api_key_prefix",
            N_("Prefix of the key"),
            hint=N_("Blank: Bearer, with the Authorization header."),
        ),
        ChannelField("to_field", N_("Field of the phone number"), hint=N_("Blank: to.")),
        ChannelField("text_field", N_("Field of the text"), hint=N_("Blank: text.")),
        ChannelField("key_field", N_("Field of the message key")),
        ChannelField("ok_field", N_("Field of the answer code")),
        ChannelField(
            "ok_values",
            N_("Codes that mean sent"),
            input="list",
            hint=N_("Separated by commas, e.g. OK, 0"),
        ),
        ChannelField("retry_values", N_("Codes worth retrying"), input="list"),
        ChannelField("id_field", N_("Field of the message id")),
        ChannelField("message_field", N_("Field of the provider's words")),
        ChannelField(
            "extra",
            N_("Extra fields (JSON)"),
            input="json",
            hint=N_("Sent with every message, e.g. the signature name."),
        ),
    ),
}


def _input_name(kind: ChannelKind, key: str) -> str:
    return f"{kind.value}.{key}"


def _json_object(text: str, field: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"is not valid JSON (line {error.lineno}): {error.msg}", field=field
        ) from error
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object {…}", field=field)
    return value


def _config_from_form(kind: ChannelKind, form: dict[str, str]) -> dict[str, Any]:
    """The chosen kind's config fields. Blank ones are left out (the sender's default); a
    `config` JSON object, which the form once took, is still read under them."""
    config = _json_object(form.get("config", "").strip(), "config")
    for field in KIND_FIELDS[kind]:
        raw = form.get(_input_name(kind, field.key), "")
        value = raw if field.key == "api_key_prefix" else raw.strip()  # "Bearer " keeps its space
        if field.secret or not value:
            continue
        if field.input == "number":
            config[field.key] = int(value) if value.isascii() and value.isdigit() else value
        elif field.input == "list":
            config[field.key] = [
                v.strip() for v in value.replace("\n", ",").split(",") if v.strip()
            ]
        elif field.input == "json":
            config[field.key] = _json_object(value, f"config.{field.key}")
        else:
            config[field.key] = value
    return config


def _secret_from_form(kind: ChannelKind, form: dict[str, str]) -> dict[str, str]:
    """The secrets typed in (blank ones are not there: on a channel's page, blank keeps)."""
    secret = {
        str(k): str(v) for k, v in _json_object(form.get("secret", "").strip(), "secret").items()
    }
    for field in KIND_FIELDS[kind]:
        value = form.get(_input_name(kind, field.key), "").strip()
        if field.secret and value:
            secret[field.key] = value
    return secret


def _form_of(channel: ShopChannel) -> dict[str, str]:
    kind = ChannelKind(channel.kind)
    form = {"name": channel.name, "rate_per_second": f"{channel.rate_per_second:g}",
            "enabled": "1" if channel.enabled else ""}  # fmt: skip
    for key, value in (channel.config or {}).items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        form[_input_name(kind, key)] = str(value)
    return form


def _refusal(
    request: Request, exc: Exception, kind: ChannelKind | None
) -> tuple[str, dict[str, str]]:
    """(the sentence for the top of the form, {input name: sentence}) naming the field."""
    message = form_error_text(exc)
    field = str(getattr(exc, "field", "") or "")
    if isinstance(exc, ValidationError) and exc.errors():
        field = ".".join(str(part) for part in exc.errors()[0]["loc"])
    key = field.partition(".")[2] if field.startswith(("config.", "secret.")) else field
    labels = {f.key: f.label for f in KIND_FIELDS[kind]} if kind else {}
    labels |= {
        "name": N_("Name"),
        "rate_per_second": N_("Messages per second"),
        "kind": N_("Kind"),
        "address": N_("Send to"),
        "config": N_("Settings (JSON)"),  # the old form's JSON boxes, still read
        "secret": N_("Secret (JSON, stored encrypted)"),
    }
    if key in labels:
        message = f"{translate(request, labels[key])}: {message}"
    name = _input_name(kind, key) if kind and key in {f.key for f in KIND_FIELDS[kind]} else key
    return message, {name: message} if name else {}


def _drawable(form: dict[str, str]) -> dict[str, str]:
    """What may be drawn back into a page: everything typed but the secrets."""
    secret_names = {_input_name(kind, f.key) for kind, fields in KIND_FIELDS.items()
                    for f in fields if f.secret}  # fmt: skip
    return {k: v for k, v in form.items() if k not in secret_names and k != "secret"}


def _field_context(request: Request) -> dict[str, Any]:
    return {
        "kind_fields": {kind.value: fields for kind, fields in KIND_FIELDS.items()},
        "field_label": lambda field: translate(request, field.label),
        "field_hint": lambda field: translate(request, field.hint) if field.hint else "",
        **page_labels(request),
    }


# --------------------------------------------------------------------------- list and add


async def _channels_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    *,
    error: str = "",
    errors: dict[str, str] | None = None,
    form: Any = None,
) -> HTMLResponse:
    return render(
        request,
        "outreach/channels.html",
        {
            "title": translate(request, N_("Channels")),
            "channels": await channel_service.list_channels(session=session, shop_id=actor.shop_id),
            "kinds": [k.value for k in ChannelKind],
            "error": error,
            "errors": errors or {},
            "form": form or {},
            **_field_context(request),
        },
        status_code=422 if error else 200,
    )


@pages.get("/channels", response_class=HTMLResponse)
async def channels_page(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    return await _channels_page(request, session, actor)


@pages.post("/channels", response_class=HTMLResponse)
async def create_channel(request: Request, session: DbSession, actor: Manager) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    kind: ChannelKind | None = None
    try:
        kind = ChannelKind(form.get("kind", ""))
        data = ChannelIn(
            kind=kind, name=form.get("name", ""), config=_config_from_form(kind, form),
            secret=_secret_from_form(kind, form) or None,
            rate_per_second=form.get("rate_per_second") or 10, enabled=True,
        )  # fmt: skip
        async with session.begin_nested():
            channel = await channel_service.create_channel(
                session=session, shop_id=actor.shop_id, kind=data.kind.value, name=data.name,
                config=data.config, secret=data.secret, rate_per_second=data.rate_per_second,
                enabled=data.enabled, settings=request.app.state.settings,
            )  # fmt: skip
    except FormErrors as exc:
        if kind is None and not isinstance(exc, InvalidInput):
            exc = InvalidInput(f"unknown channel kind {form.get('kind', '')!r}", field="kind")
        error, errors = _refusal(request, exc, kind)
        return await _channels_page(
            request, session, actor, error=error, errors=errors, form=_drawable(form)
        )
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.channel.create",
        target_type="outreach_channel", target_id=channel.id, details={"kind": kind.value},
    )  # fmt: skip
    flash(request, translate(request, N_("Channel added")))
    return redirect("/console/outreach/channels")


# --------------------------------------------------------------------------- a channel's page


async def _channel_page(
    request: Request,
    channel: ShopChannel,
    *,
    form: dict[str, str],
    error: str = "",
    errors: dict[str, str] | None = None,
    test: dict[str, str] | None = None,
    test_result: dict[str, Any] | None = None,
) -> HTMLResponse:
    stored = channel_service.readable_secret(channel, settings=request.app.state.settings)
    return render(
        request,
        "outreach/channel_edit.html",
        {
            "title": translate(request, N_("Channel")),
            "channel": channel,
            "fields": KIND_FIELDS[ChannelKind(channel.kind)],
            # Which secrets are stored (their names only), for "stored: leave blank to keep".
            "stored_secrets": set(stored or {}),
            "secrets_unreadable": stored is None,
            "form": form,
            "error": error,
            "errors": errors or {},
            "test": test or {},
            "test_result": test_result,
            **_field_context(request),
        },
        status_code=422 if error else 200,
    )


@pages.get("/channels/{outreach_channel_id}", response_class=HTMLResponse)
async def channel_page(
    request: Request, outreach_channel_id: int, session: DbSession, actor: Manager
) -> HTMLResponse:
    channel = await channel_service.get_channel(
        session=session, shop_id=actor.shop_id, channel_id=outreach_channel_id
    )
    return await _channel_page(request, channel, form=_form_of(channel))


def _audited(channel: ShopChannel) -> dict[str, Any]:
    return {"name": channel.name, "config": dict(channel.config or {}),
            "rate_per_second": channel.rate_per_second, "enabled": channel.enabled}  # fmt: skip


@pages.post("/channels/{outreach_channel_id}", response_class=HTMLResponse)
async def update_channel(
    request: Request, outreach_channel_id: int, session: DbSession, actor: Manager
) -> Response:
    channel = await channel_service.get_channel(
        session=session, shop_id=actor.shop_id, channel_id=outreach_channel_id
    )
    kind = ChannelKind(channel.kind)
    form = {k: str(v) for k, v in (await request.form()).items()}
    before = _audited(channel)
    try:
        changes = ChannelPatch(
            name=form.get("name", ""), config=_config_from_form(kind, form),
            secret=_secret_from_form(kind, form) or None,
            rate_per_second=form.get("rate_per_second") or channel.rate_per_second,
            enabled=form.get("enabled") == "1",
        )  # fmt: skip
        async with session.begin_nested():
            await channel_service.update_channel(
                session=session, shop_id=actor.shop_id, channel_id=channel.id,
                changes=changes.model_dump(), settings=request.app.state.settings,
            )  # fmt: skip
    except FormErrors as exc:
        await session.refresh(channel)  # what is stored, not what was refused
        error, errors = _refusal(request, exc, kind)
        return await _channel_page(
            request, channel, form=_drawable(form), error=error, errors=errors
        )
    after = _audited(channel)
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.channel.update",
        target_type="outreach_channel", target_id=channel.id,
        details={"kind": kind.value, "changed": sorted(k for k in after if after[k] != before[k]),
                 "secrets_replaced": sorted(changes.secret or {})},
    )  # fmt: skip
    flash(request, translate(request, N_("Channel saved")))
    return redirect(f"/console/outreach/channels/{channel.id}")


@pages.post("/channels/{outreach_channel_id}/test", response_class=HTMLResponse)
async def test_channel(
    request: Request, outreach_channel_id: int, session: DbSession, actor: Manager
) -> Response:
    """The API's test send (one transactional message, no retries), its answer drawn here."""
    channel = await channel_service.get_channel(
        session=session, shop_id=actor.shop_id, channel_id=outreach_channel_id
    )
    form = {k: str(v) for k, v in (await request.form()).items()}
    test = {k: form.get(k, "") for k in ("address", "text", "subject")}
    try:
        data = TestSendIn(**{k: v for k, v in test.items() if v or k == "address"})
        result = channel_api.test_result_out(
            await channel_service.send_test(
                channel, address=data.address, text=data.text, subject=data.subject,
                settings=request.app.state.settings,
            )
        )  # fmt: skip
    except FormErrors as exc:
        error, errors = _refusal(request, exc, None)
        return await _channel_page(
            request, channel, form=_form_of(channel), test=test, error=error,
            errors={f"test.{k}": v for k, v in errors.items()},
        )  # fmt: skip
    return await _channel_page(
        request, channel, form=_form_of(channel), test=test, test_result=result
    )


router.include_router(pages)
