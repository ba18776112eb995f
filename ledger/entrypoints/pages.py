"""The pages people read in a browser, served by ``bloodledger serve`` beside the API.

Blood-bank staff, investigators and quality managers sign in once with their
token (``/login``) and then read the ledger's answers as pages: a DIN's units and
their vein-to-vein timeline, a trace drawn as a graph, the inventory dashboard,
the alerts, a lookback case and the reports. Each page asks the same question the
JSON API asks (:mod:`ledger.entrypoints.answers`), so a role sees exactly what
the API would show it — its facility only, donor identifiers withheld where the
API withholds them, every identifier shown recorded in the access log (with the
page's route, ``page:/units/{din}`` …) — and renders it on the server with Jinja2
templates (``templates/pages/``). Where a page changes in place (the inventory's
"as of", the alerts' refresh) htmx asks for the same route and gets only the
fragment. Every script, style and picture is a file of the package
(``static/``, served at ``/static``): hospital networks are closed.

Words come from the ``pages`` message catalog in Simplified Chinese or English
(:mod:`ledger.entrypoints.i18n`), the codes' words and the ledger's own sentences
from the ``terms`` catalog it shares with the reports (:mod:`.glossary`):
``?lang=zh|en`` switches and is remembered in a cookie, else ``Accept-Language``
decides. Times are shown in UTC in the viewer's locale's format; the date-time fields
are read as UTC, and say so.

Sessions and CSRF are :mod:`ledger.entrypoints.sessions`'.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, Response
from fastapi.exceptions import WebSocketRequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from ledger.domain.access import Capability, Forbidden, Principal, Unauthenticated, token_hash
from ledger.domain.din import InvalidDIN
from ledger.domain.disclosure import WITHHELD
from ledger.domain.instants import iso_ms
from ledger.entrypoints import answers, dashboard, i18n, templating, trace_graph
from ledger.entrypoints.glossary import N_, Words, written_in
from ledger.entrypoints.sessions import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    SESSION_KEY_ENV,
    SESSION_SECONDS,
    Session,
    SessionKeeper,
    session_key,
)
from ledger.services.quality import InvalidReport

if TYPE_CHECKING:
    from ledger.entrypoints.answers import Services

log = logging.getLogger("bloodledger.pages")

__all__ = [
    "LANGUAGE_NAMES",
    "STATIC",
    "TEMPLATES",
    "install_pages",
    "late_arrivals",
    "local_path",
    "pages_router",
    "read_moment",
]

TEMPLATES = Path(__file__).resolve().parent / "templates" / "pages"
STATIC = Path(__file__).resolve().parent / "static"
#: The cookie remembering the language a viewer chose.
LANG_COOKIE = "bl_lang"
#: Each language by its own name (the switch shows it so in every language).
LANGUAGE_NAMES: Mapping[str, str] = {"zh_CN": "中文", "en": "English"}
#: The most alert entries one page lists (newest first); the rest are counted.
ALERTS_SHOWN = 300
#: The reports ``/reports`` makes (:data:`ledger.entrypoints.quality.KINDS`; named here
#: so that the pages load matplotlib and WeasyPrint only when a report is asked for).
REPORT_KINDS = ("qc", "hemovigilance", "inventory")
REPORT_FORMATS = ("html", "pdf", "json")
#: The days a report form proposes, ending today.
REPORT_DAYS = 30
#: A rendered report's policy: its own inline styles and embedded charts, nothing else.
REPORT_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
#: The capabilities the navigation and the pages ask about, by the name templates use.
_MAY: Mapping[str, Capability] = {
    "units": Capability.READ_UNIT,
    "trace": Capability.TRACE,
    "inventory": Capability.READ_INVENTORY,
    "alerts": Capability.READ_ALERTS,
    "lookbacks": Capability.LOOKBACK_READ,
    "reports": Capability.READ_INVENTORY,
}
#: What every page's response carries: nothing from elsewhere, nothing kept, nothing leaked.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class BadMoment(ValueError):
    """A date-time field holds something that is not a date-time."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def read_moment(text: str | None, field: str) -> datetime | None:
    """A date-time field's value as an instant (``None`` when empty).

    ``<input type="datetime-local">`` sends ``2026-09-01T08:00`` (or with seconds),
    with no offset: read as UTC, as the page says beside the field. A value with an
    offset (``…Z``, ``…+08:00``, as links and the API write them) is taken as it is;
    a plain date is midnight UTC. Anything else raises :class:`BadMoment`.
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadMoment(field) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def field_value(moment: datetime | None) -> str:
    """An instant as a ``datetime-local`` field shows it (UTC, to the second)."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def late_arrivals(events: Sequence[Mapping[str, Any]]) -> set[str]:
    """The facts the ledger learned late: each recorded after a fact of the same
    history that happened later than it (so it changed a history already told).
    ``events`` as a history document lists them (``occurred_at``, ``recorded_at``)."""

    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    late: set[str] = set()
    latest: datetime | None = None
    for e in sorted(events, key=lambda e: (instant(e["recorded_at"]), e["event_id"])):
        occurred = instant(e["occurred_at"])
        if latest is not None and occurred < latest:
            late.add(e["event_id"])
        else:
            latest = occurred
    return late


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site (``/…``, not ``//host`` nor a URL with a
    scheme, nor the sign-in page itself), else ``/``: a sign-in never sends a person
    elsewhere (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    if parts.path in ("/login", "/logout"):
        return "/"
    return target


@dataclass
class Viewer:
    """Who is looking, in which language: the request, its language (and whether the
    request chose it, so the response remembers it), and the signed-in principal."""

    request: Request
    lang: str
    chosen: bool
    session: Session | None
    principal: Principal | None

    @property
    def fragment(self) -> bool:
        """Whether htmx asks for the part of the page it updates in place."""
        return self.request.headers.get("HX-Request") == "true"

    def here(self) -> str:
        """This page's path and query (without ``lang``), for ``next`` and the switch."""
        query = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        path = self.request.url.path
        return path + ("?" + urlencode(query) if query else "")


class PageError(Exception):
    """A page that answers with an error: its status and message (translated)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Pages:
    """The pages of one server: its services, its session key, its templates."""

    def __init__(self, services: Services, keeper: SessionKeeper) -> None:
        self.services = services
        self.keeper = keeper
        self.envs: dict[str, jinja2.Environment] = {}
        self.words: dict[str, Words] = {}
        for lang in i18n.LANGUAGES:  # made once, before serving: rendering only reads them
            env = i18n.environment(TEMPLATES, "pages", lang)
            words = self.words[lang] = Words.of(lang)
            env.globals.update(
                term=words.term,
                terms=words.terms,
                field_value=words.field_value,
                sentence=words.sentence,
                written_in=written_in,
                withheld=WITHHELD,
            )
            templating.quicken(env, i18n.translations(lang, "pages"))
            self.envs[lang] = env

    # -- who is looking --

    def viewer(self, request: Request, lang: str | None) -> Viewer:
        asked = i18n.language(lang)
        chosen = asked or _cookie_or_header(request)
        session = self.keeper.read(request.cookies.get(SESSION_COOKIE))
        principal = None
        if session is not None:
            try:
                principal = self.services.access.holder_of(session.token_hash)
            except Unauthenticated:
                session = None  # revoked since: signed out
        return Viewer(request, chosen, asked is not None, session, principal)

    # -- rendering --

    def gettext(self, viewer: Viewer, message: str, **variables: Any) -> str:
        text = str(i18n.translations(viewer.lang, "pages").gettext(message))
        return text % variables if variables else text

    def render(
        self, viewer: Viewer, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        env = self.envs[viewer.lang]
        principal = viewer.principal
        may = {name: principal is not None and principal.may(c) for name, c in _MAY.items()}
        here = viewer.here()
        page = {
            "path": viewer.request.url.path,
            "here": here,
            "principal": principal,
            "may": may,
            "csrf": self.keeper.csrf(viewer.session.nonce) if viewer.session else "",
            "switch": [
                {
                    "lang": lang,
                    "name": name,
                    "code": lang.split("_")[0],
                    "html_lang": lang.replace("_", "-"),
                    "href": _with_lang(here, lang.split("_")[0]),
                    "current": lang == viewer.lang,
                }
                for lang, name in LANGUAGE_NAMES.items()
            ],
        }
        html = env.get_template(template).render(page=page, **context)
        response = HTMLResponse(html, status_code=status)
        self.dress(viewer, response)
        return response

    def dress(self, viewer: Viewer, response: Response) -> None:
        """What every page response carries: the security headers, its language, and
        the language cookie when the request chose one."""
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Language"] = viewer.lang.replace("_", "-")
        response.headers["Vary"] = "Accept-Language, Cookie, HX-Request"
        if viewer.chosen:
            _set_cookie(viewer, response, LANG_COOKIE, viewer.lang, 365 * 24 * 3600)

    def error(self, viewer: Viewer, status: int, message: str) -> HTMLResponse:
        return self.render(viewer, "error.html", status, status_code=status, message=message)

    # -- answering --

    def answer(
        self, viewer: Viewer, produce: Callable[[Principal], HTMLResponse | Response]
    ) -> Response:
        """A signed-in page: ``produce`` renders it for the principal; the ways a
        question fails become pages that say why (never a stack trace, never an id)."""
        principal = viewer.principal
        if principal is None:
            return self.sign_in_first(viewer)
        say = functools.partial(self.gettext, viewer)
        try:
            return produce(principal)
        except PageError as e:
            return self.error(viewer, e.status, e.message)
        except Forbidden:
            return self.error(viewer, 403, say(N_("Your role or facility may not see this page.")))
        except InvalidDIN:
            return self.error(
                viewer, 422, say(N_("This is not a valid DIN (13 characters, e.g. S310126000001)."))
            )
        except answers.BadQuestion:
            return self.error(viewer, 422, say(N_("Give exactly one of donor, patient or DIN.")))

    def sign_in_first(self, viewer: Viewer) -> Response:
        target = "/login?" + urlencode({"next": local_path(viewer.here())})
        if viewer.fragment:  # htmx: the whole page goes to the sign-in
            response: Response = Response(status_code=204, headers={"HX-Redirect": target})
        else:
            response = RedirectResponse(target, status_code=303)
        self.dress(viewer, response)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _with_lang(here: str, code: str) -> str:
    return here + ("&" if "?" in here else "?") + urlencode({"lang": code})


def _set_cookie(viewer: Viewer, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=viewer.request.url.scheme == "https",
    )


def _viewing(request: Request, lang: Annotated[str | None, Query()] = None) -> Viewer:
    """Who is looking (every page takes ``?lang=``)."""
    pages: Pages = request.app.state.pages
    return pages.viewer(request, lang)


Looking = Annotated[Viewer, Depends(_viewing)]


def pages_router(pages: Pages) -> APIRouter:
    """The pages' routes (not in the OpenAPI document: they answer HTML)."""
    services = pages.services
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    def moment(viewer: Viewer, text: str | None, field: str, label: str) -> datetime | None:
        try:
            return read_moment(text, field)
        except BadMoment:
            message = pages.gettext(
                viewer,
                N_(
                    "“%(field)s” is not a date and time. Use the picker, or write it as "
                    "2026-09-01T08:00 (UTC)."
                ),
                field=pages.gettext(viewer, label),
            )
            raise PageError(400, message) from None

    # -- signing in and out ---------------------------------------------------------

    def login_form(
        viewer: Viewer, target: str, status: int = 200, problem: str | None = None
    ) -> HTMLResponse:
        nonce = viewer.request.cookies.get(LOGIN_COOKIE) or pages.keeper.login_nonce()
        response = pages.render(
            viewer,
            "login.html",
            status,
            next=local_path(target),
            login_csrf=pages.keeper.csrf(nonce),
            problem=problem,
        )
        _set_cookie(viewer, response, LOGIN_COOKIE, nonce, LOGIN_SECONDS)
        return response

    @router.get("/login")
    def login_page(viewer: Looking, next: str | None = None) -> Response:
        if viewer.principal is not None:
            response = RedirectResponse(local_path(next), status_code=303)
            pages.dress(viewer, response)
            return response
        return login_form(viewer, next or "/")

    @router.post("/login")
    def login(
        viewer: Looking,
        token: Annotated[str, Form(max_length=200)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        if not pages.keeper.csrf_ok(viewer.request.cookies.get(LOGIN_COOKIE), csrf):
            problem = pages.gettext(
                viewer,
                N_(
                    "This sign-in form has expired or did not come from this site. "
                    "It has been renewed: sign in again."
                ),
            )
            return login_form(viewer, next, 403, problem)
        try:
            principal = services.access.authenticate(token.strip())
        except Unauthenticated:
            problem = pages.gettext(
                viewer, N_("This token was not accepted: it is unknown, revoked or mistyped.")
            )
            return login_form(viewer, next, 401, problem)
        _, cookie = pages.keeper.begin(token_hash(token.strip()))
        log.info("signed in: %s (%s)", principal.name, principal.role)
        response = RedirectResponse(local_path(next), status_code=303)
        pages.dress(viewer, response)
        _set_cookie(viewer, response, SESSION_COOKIE, cookie, SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @router.post("/logout")
    def logout(viewer: Looking, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        if viewer.session is None:
            return pages.sign_in_first(viewer)
        if not pages.keeper.csrf_ok(viewer.session.nonce, csrf):
            message = pages.gettext(
                viewer,
                N_("This form has expired or did not come from this site; nothing was done."),
            )
            return pages.error(viewer, 403, message)
        response = RedirectResponse("/login", status_code=303)
        pages.dress(viewer, response)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- the start page and the finders ----------------------------------------------

    @router.get("/")
    def home(viewer: Looking) -> Response:
        return pages.answer(viewer, lambda who: pages.render(viewer, "home.html"))

    @router.get("/units")
    def find_unit(viewer: Looking, din: str | None = None) -> Response:
        def produce(who: Principal) -> Response:
            services.access.authorize(who, Capability.READ_UNIT)
            if din and din.strip():
                target = f"/units/{quote(din.strip().upper(), safe='')}"
                response = RedirectResponse(target, status_code=303)
                pages.dress(viewer, response)
                return response
            return pages.render(viewer, "find_unit.html")

        return pages.answer(viewer, produce)

    # -- a DIN's units ---------------------------------------------------------------

    @router.get("/units/{din}")
    def unit_page(
        viewer: Looking,
        din: str,
        product: str | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> Response:
        def produce(who: Principal) -> Response:
            fields = {"as_of": as_of or "", "known_at": known_at or "", "product": product}
            try:
                at = moment(viewer, as_of, "as_of", N_("As of"))
                known = moment(viewer, known_at, "known_at", N_("Known at"))
            except PageError as e:
                return pages.render(
                    viewer, "unit.html", e.status, din=din, units=[], fields=fields,
                    problem=e.message, document={},
                )  # fmt: skip
            fields.update(as_of=field_value(at), known_at=field_value(known))
            try:
                document = answers.unit_history(
                    services, who, "page:/units/{din}", din, product or None, at, known
                )
            except answers.NotFound:
                message = pages.gettext(
                    viewer, N_("No units of DIN %(din)s are recorded."), din=din
                )
                if product:
                    message = pages.gettext(
                        viewer,
                        N_("No unit %(product)s of DIN %(din)s is recorded."),
                        din=din,
                        product=product,
                    )
                return pages.error(viewer, 404, message)
            units = [
                {**u, "late": late_arrivals(u["events"]), "payload": _payloads(u["events"])}
                for u in document["units"]
            ]
            return pages.render(
                viewer, "unit.html", din=din, units=units, fields=fields, problem=None,
                document=document,
            )  # fmt: skip

        return pages.answer(viewer, produce)

    # -- traces ------------------------------------------------------------------------

    @router.get("/trace")
    def trace_page(
        viewer: Looking,
        donor: str | None = None,
        patient: str | None = None,
        din: str | None = None,
    ) -> Response:
        def produce(who: Principal) -> Response:
            services.access.authorize(who, Capability.TRACE)
            given = {"donor": donor, "patient": patient, "din": din}
            asked = {k: v.strip() for k, v in given.items() if v and v.strip()}
            if not asked:
                return pages.render(viewer, "trace.html", asked={}, graph=None, document=None)
            document = answers.trace(services, who, "page:/trace", **asked)
            graph = trace_graph.layout(document)
            return pages.render(viewer, "trace.html", asked=asked, graph=graph, document=document)

        return pages.answer(viewer, produce)

    # -- inventory -----------------------------------------------------------------------

    @router.get("/inventory")
    def inventory_page(
        viewer: Looking, facility: str | None = None, as_of: str | None = None
    ) -> Response:
        def produce(who: Principal) -> Response:
            fields = {"facility": (facility or "").strip().upper(), "as_of": as_of or ""}
            template = "inventory_table.html" if viewer.fragment else "inventory.html"
            own = who.scope(Capability.READ_INVENTORY)
            policy = services.policy
            legend: dict[str, Any] = {
                "legend": dashboard.legend(policy),
                "window_days": policy.window_days,
            }
            try:
                at = moment(viewer, as_of, "as_of", N_("As of")) or services.clock()
            except PageError as e:
                return pages.render(
                    viewer, template, e.status, rows=[], facilities=[], fields=fields,
                    problem=e.message, at=None, summary=[], own=own, **legend,
                )  # fmt: skip
            rows = answers.inventory_rows(services, who, fields["facility"] or None, at)
            fields["as_of"] = field_value(at) if as_of else ""
            return pages.render(
                viewer, template, rows=rows, facilities=dashboard.grids(rows), fields=fields,
                problem=None, at=at, summary=dashboard.summary(rows), own=own,
                swapped=viewer.fragment, **legend,
            )  # fmt: skip

        return pages.answer(viewer, produce)

    # -- alerts ----------------------------------------------------------------------------

    @router.get("/alerts")
    def alerts_page(viewer: Looking, since: str | None = None) -> Response:
        def produce(who: Principal) -> Response:
            template = "alerts_list.html" if viewer.fragment else "alerts.html"
            fields = {"since": since or ""}
            try:
                start = moment(viewer, since, "since", N_("Since"))
            except PageError as e:
                return pages.render(
                    viewer, template, e.status, entries=[], total=0, fields=fields,
                    problem=e.message, at=services.clock(),
                )  # fmt: skip
            found = answers.newest_alerts(services, who, "page:/alerts", ALERTS_SHOWN, start)
            fields["since"] = field_value(start)
            return pages.render(
                viewer, template, entries=found.entries, total=found.total,
                fields=fields, problem=None, at=services.clock(),
            )  # fmt: skip

        return pages.answer(viewer, produce)

    # -- lookbacks -------------------------------------------------------------------------

    @router.get("/lookbacks")
    def lookbacks_page(viewer: Looking) -> Response:
        def produce(who: Principal) -> Response:
            services.access.authorize(who, Capability.LOOKBACK_READ)
            cases = [
                {
                    "case_id": row["case_id"],
                    "reason": row["reason"],
                    "trigger_din": row["trigger_din"],
                    "opened_at": iso_ms(row["opened_at"]),
                }
                for row in services.models.view.cases()
            ]
            return pages.render(viewer, "lookbacks.html", cases=cases)

        return pages.answer(viewer, produce)

    @router.get("/lookbacks/{case_id}")
    def lookback_page(viewer: Looking, case_id: str) -> Response:
        def produce(who: Principal) -> Response:
            try:
                report = answers.lookback(services, who, "page:/lookbacks/{case_id}", case_id)
            except answers.NotFound:
                message = pages.gettext(
                    viewer, N_("There is no lookback case %(case)s."), case=case_id
                )
                return pages.error(viewer, 404, message)
            return pages.render(viewer, "lookback.html", report=report)

        return pages.answer(viewer, produce)

    # -- reports ---------------------------------------------------------------------------

    @router.get("/reports")
    def reports_page(viewer: Looking) -> Response:
        def produce(who: Principal) -> Response:
            return reports_form(viewer, who)

        return pages.answer(viewer, produce)

    def reports_form(
        viewer: Viewer,
        who: Principal,
        status: int = 200,
        problem: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> Response:
        services.access.authorize(who, Capability.READ_INVENTORY)
        today = services.clock().astimezone(UTC).date()
        shown = {
            "facility": "",
            "start": (today - timedelta(days=REPORT_DAYS - 1)).isoformat(),
            "end": today.isoformat(),
            **(fields or {}),
        }
        return pages.render(
            viewer, "reports.html", status, kinds=REPORT_KINDS, fields=shown, problem=problem,
            own=who.scope(Capability.READ_INVENTORY),
        )  # fmt: skip

    @router.get("/reports/{kind}")
    def report(
        viewer: Looking,
        kind: str,
        facility: str | None = None,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        format: str = "html",
    ) -> Response:
        def produce(who: Principal) -> Response:
            if kind not in REPORT_KINDS:
                raise PageError(404, pages.gettext(viewer, N_("There is no such report.")))
            scoped = services.access.facility_for(
                who, Capability.READ_INVENTORY, (facility or "").strip().upper() or None
            )
            fields = {"facility": scoped or "", "start": start or "", "end": end or ""}
            try:
                window = _report_window(scoped, start, end, format)
            except ValueError as e:  # its message is a message id of the catalog
                why = pages.gettext(viewer, str(e))
                message = pages.gettext(viewer, N_("This report cannot be made: %(why)s"), why=why)
                return reports_form(viewer, who, 400, message, fields)
            from ledger.entrypoints import quality
            from ledger.entrypoints.charts import MissingCjkFont

            facility_of, first, after = window
            try:
                document = quality.report_document(
                    kind, services.models.view, facility_of, first, after, policy=services.policy
                )
            except InvalidReport as e:  # a bad facility or window
                why = pages.words[viewer.lang].sentence("refusal", e.said.code) or str(e)
                message = pages.gettext(viewer, N_("This report cannot be made: %(why)s"), why=why)
                return reports_form(viewer, who, 400, message, fields)
            shown = answers.disclosed(services.access, who, "page:/reports/{kind}", document)
            try:
                body = quality.render_report(kind, shown, format, viewer.lang)
            except MissingCjkFont:
                message = pages.gettext(
                    viewer, N_("This server has no Chinese font to draw the report with.")
                )
                raise PageError(503, message) from None
            name = f"{kind}-{facility_of}-{first.date().isoformat()}.{format}"
            response = Response(body, media_type=quality.MEDIA_TYPES[format])
            pages.dress(viewer, response)
            response.headers["Content-Security-Policy"] = REPORT_POLICY
            response.headers["Content-Disposition"] = f'inline; filename="{name}"'
            return response

        return pages.answer(viewer, produce)

    return router


def _report_window(
    facility: str | None, start: str | None, end: str | None, fmt: str
) -> tuple[str, datetime, datetime]:
    """A report's facility and [first, after) window from the form (``ValueError``
    whose message is the catalog's message id saying what is missing or wrong)."""
    from ledger.entrypoints.reporting import bound

    if fmt not in REPORT_FORMATS:
        raise ValueError(N_("the format is html, pdf or json"))
    if not facility:
        raise ValueError(N_("give the facility (its 5-character FIN)"))
    if not start or not end:
        raise ValueError(N_("give the first and the last day"))
    try:
        return facility, bound(start, end=False), bound(end, end=True)
    except ValueError:
        raise ValueError(N_("give each day as YYYY-MM-DD")) from None


def _payloads(events: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[str, Any]]]:
    """Each fact's own fields (its payload), by event id, in the document's order."""
    envelope = {"event_id", "event_type", "occurred_at", "recorded_at", "facility"}
    envelope |= {"source_system", "actor"}
    return {
        e["event_id"]: [(k, v) for k, v in e.items() if k not in envelope and v is not None]
        for e in events
    }


def install_pages(app: FastAPI, services: Services, keeper: SessionKeeper | None = None) -> None:
    """The pages and their static files on ``app``; the app's error handlers answer
    a page's errors with a page (the API's own routes keep their JSON)."""
    if keeper is None:
        keeper = SessionKeeper(session_key())
        if os.environ.get(SESSION_KEY_ENV):
            log.info("pages: sessions signed with the key in %s", SESSION_KEY_ENV)
        else:
            log.info("pages: sessions signed with a key of this process (they end with it)")
    pages = Pages(services, keeper)
    router = pages_router(pages)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    endpoints = {r.endpoint for r in router.routes if isinstance(r, APIRoute)}
    app.state.pages = pages
    for kind, handler in list(app.exception_handlers.items()):
        if isinstance(kind, type) and issubclass(kind, WebSocketRequestValidationError):
            continue  # a websocket's error has no page
        app.exception_handlers[kind] = _as_page(pages, endpoints, handler)


_GENERIC: Mapping[int, str] = {
    400: N_("The address of this page is not valid."),
    404: N_("There is nothing at this address."),
    405: N_("This page cannot be asked that way."),
    422: N_(
        "The address of this page is not valid: a parameter is unknown, repeated or malformed."
    ),
    503: N_("The ledger's store does not answer. Try again in a moment."),
}
_UNEXPECTED = N_("The ledger could not answer; the error is logged.")


def _as_page(
    pages: Pages, endpoints: set[Callable[..., Any]], handler: Callable[..., Any]
) -> Callable[..., Any]:
    """``handler``, but for a page's request an error page with the status it chose."""

    async def handle(request: Request, error: Exception) -> Any:
        answer = handler(request, error)
        if hasattr(answer, "__await__"):
            answer = await answer
        route = request.scope.get("route")
        if getattr(route, "endpoint", None) not in endpoints:
            return answer
        lang = i18n.language(request.query_params.get("lang")) or _cookie_or_header(request)
        viewer = Viewer(request, lang, False, None, None)  # not asked who: the store may be down
        status = answer.status_code
        message = pages.gettext(viewer, _GENERIC.get(status, _UNEXPECTED))
        return pages.error(viewer, status, message)

    return handle


def _cookie_or_header(request: Request) -> str:
    """The language the viewer chose before (its cookie), else its browser's."""
    remembered = i18n.language(request.cookies.get(LANG_COOKIE))
    return remembered or i18n.negotiate(request.headers.get("accept-language"))
