"""The pages on SQLite and PostgreSQL, in process (FastAPI's test client, real stores).

Signing in and out (the session cookie's attributes, CSRF, where a sign-in may
lead), what each role sees on each page — exactly what the API shows it, the same
identifiers withheld and the same recorded in the access log — the language
(``Accept-Language``, the switch, the cookie), the pages' errors, the fragments
htmx asks for, and the static files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.domain.inventory import AlertPolicy, Thresholds
from ledger.entrypoints.api import create_app
from ledger.entrypoints.glossary import Words
from ledger.entrypoints.i18n import translations
from ledger.entrypoints.serve import Served
from ledger.entrypoints.sessions import LOGIN_COOKIE, SESSION_COOKIE
from tests.builders import HOSPITAL, RBC, START, Timeline, din
from tests.integration.api_support import GIVEN, OTHER, WAITING, serving

pytestmark = pytest.mark.integration

#: A third donation at HOSPITAL: its receipt reached the ledger late, and its
#: transfusion started without a passed bedside check.
FLAGGED = din(3)
#: Stock is looked at while the story's units are on the shelf.
ON_SHELF = "2026-09-01T21:00"


def flagged_story() -> tuple[list[Any], list[Any]]:
    """The facts of FLAGGED: all but the receipt, then the receipt (late)."""
    t = Timeline(din=FLAGGED)
    t.collected(donor="D000003")
    t.tested()
    t.grouped()
    t.produced()
    t.released()
    t.issued()
    received = t.received()
    t.crossmatched(patient="P000003")
    t.dispensed(patient="P000003")
    t.started(patient="P000003", bedside=False)
    return [f for f in t.facts if f is not received], [received]


@dataclass
class Site:
    client: TestClient
    tokens: dict[str, str]
    served: Served
    case_id: str

    def sign_in(self, who: str, next: str = "/") -> Any:
        """Sign in as a person would: the form, its CSRF token, the token."""
        form = self.client.get("/login", params={"next": next})
        assert form.status_code == 200, form.text
        return self.client.post(
            "/login",
            data={"token": self.tokens[who], "csrf": csrf_of(form.text), "next": next},
            follow_redirects=False,
        )

    def as_(self, who: str) -> Site:
        """Signed in as ``who`` (a fresh cookie jar)."""
        self.client.cookies.clear()
        answer = self.sign_in(who)
        assert answer.status_code == 303, answer.text
        return self

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, follow_redirects=False, **kw)

    def revealed(self) -> list[tuple[str, str, set[tuple[str, str]]]]:
        """The access log, newest first: (token name, route, identifiers)."""
        return [
            (e["token_name"], e["route"], {(i["kind"], i["id"]) for i in e["identifiers"]})
            for e in self.served.access.control.entries(limit=1000)
        ]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def data_of(html: str, name: str) -> list[str]:
    """The ``data-<name>`` values of the page, in order."""
    return re.findall(rf'data-{name}="([^"]*)"', html)


@pytest.fixture
def site(durable_store_url: str) -> Iterator[Site]:
    with (
        serving(durable_store_url) as (served, tokens),
        TestClient(create_app(served.services)) as client,
    ):
        first, late = flagged_story()
        served.models.ledger.record(first)
        served.models.ledger.record(late)
        served.models.projector.catch_up()
        opened = client.post(
            "/api/v1/lookbacks",
            headers={"Authorization": f"Bearer {tokens['investigator']}"},
            json={"donor_id": "D000001", "reason": "recipient seroconverted",
                  "since": START.isoformat()},
        )  # fmt: skip
        assert opened.status_code == 201, opened.text
        yield Site(client, tokens, served, opened.json()["case_id"])


# -- signing in -------------------------------------------------------------------------


def test_a_page_asks_for_sign_in_and_the_sign_in_leads_back_to_it(site: Site) -> None:
    asked = site.get(f"/units/{GIVEN}?as_of=2026-09-02T00:00")
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/login?next=")
    signed = site.sign_in("investigator", next=f"/units/{GIVEN}?as_of=2026-09-02T00:00")
    assert signed.status_code == 303
    assert signed.headers["location"] == f"/units/{GIVEN}?as_of=2026-09-02T00:00"
    page = site.get(signed.headers["location"])
    assert page.status_code == 200 and 'data-testid="din">' + GIVEN in page.text


def test_the_session_cookie_is_httponly_strict_and_never_the_token(site: Site) -> None:
    signed = site.sign_in("clinician")
    cookie = next(
        c for c in signed.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain http here
    assert site.tokens["clinician"] not in cookie
    assert site.tokens["clinician"] not in signed.text


def test_over_https_the_cookies_are_secure(durable_store_url: str) -> None:
    with (
        serving(durable_store_url) as (served, tokens),
        TestClient(create_app(served.services), base_url="https://testserver") as client,
    ):
        form = client.get("/login")
        assert "secure" in form.headers["set-cookie"].lower()
        signed = client.post(
            "/login",
            data={"token": tokens["regulator"], "csrf": csrf_of(form.text), "next": "/"},
            follow_redirects=False,
        )
        session = [c for c in signed.headers.get_list("set-cookie") if SESSION_COOKIE in c]
        assert session and "secure" in session[0].lower()


def test_a_wrong_token_is_refused_and_starts_no_session(site: Site) -> None:
    form = site.get("/login")
    refused = site.client.post(
        "/login",
        data={"token": "blt_" + "x" * 43, "csrf": csrf_of(form.text), "next": "/"},
        follow_redirects=False,
    )
    assert refused.status_code == 401
    assert 'data-testid="problem"' in refused.text
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert site.get("/").status_code == 303  # still not signed in


def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    site.get("/login")  # the sign-in cookie is set
    for csrf in ("", "forged"):
        refused = site.client.post(
            "/login",
            data={"token": site.tokens["investigator"], "csrf": csrf, "next": "/"},
            follow_redirects=False,
        )
        assert refused.status_code == 403
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    site.client.cookies.delete(LOGIN_COOKIE)  # a form posted from elsewhere: no cookie
    form = site.client.get("/login")
    site.client.cookies.delete(LOGIN_COOKIE)
    refused = site.client.post(
        "/login",
        data={"token": site.tokens["investigator"], "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_signing_out_needs_the_session_csrf_token(site: Site) -> None:
    site.as_("investigator")
    home = site.get("/")
    assert home.status_code == 200
    refused = site.client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert site.get("/").status_code == 200  # still signed in
    out = site.client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert site.get("/").status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/login"])
def test_a_sign_in_never_leads_off_the_site(site: Site, target: str) -> None:
    assert site.sign_in("regulator", next=target).headers["location"] == "/"


def test_a_revoked_token_ends_its_sessions(site: Site) -> None:
    site.as_("regulator")
    assert site.get(f"/units/{GIVEN}").status_code == 200
    site.served.access.control.revoke("regulator")
    assert site.get(f"/units/{GIVEN}").status_code == 303


def test_an_altered_session_cookie_is_no_session(site: Site) -> None:
    site.as_("regulator")
    cookie = site.client.cookies[SESSION_COOKIE]
    body, mac = cookie.split(".")
    site.client.cookies.clear()
    site.client.cookies.set(SESSION_COOKIE, cookie)
    assert site.get("/").status_code == 200  # the cookie as it was: signed in
    site.client.cookies.clear()
    altered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    site.client.cookies.set(SESSION_COOKIE, f"{altered}.{mac}")
    assert site.get("/").status_code == 303


# -- what each role sees -------------------------------------------------------------------


def test_a_clinician_sees_its_units_without_donors_as_the_api_shows_them(site: Site) -> None:
    page = site.as_("clinician").get(f"/units/{GIVEN}")
    assert page.status_code == 200
    assert "D000002" not in page.text and 'data-testid="withheld"' in page.text
    assert "P000002" in page.text
    api = site.client.get(
        f"/api/v1/units/{GIVEN}", headers={"Authorization": f"Bearer {site.tokens['clinician']}"}
    ).json()
    assert data_of(page.text, "product") == [u["product_code"] for u in api["units"]]
    logged = site.revealed()
    # the page recorded what the API recorded for the same look, under its own route
    assert logged[1] == ("clinician", "page:/units/{din}", {("patient", "P000002")})
    assert logged[0] == ("clinician", "/units/{din}", {("patient", "P000002")})


def test_a_clinician_of_another_hospital_is_refused_the_units(site: Site) -> None:
    page = site.as_("clinician-other").get(f"/units/{GIVEN}")
    assert page.status_code == 403
    assert 'data-testid="error-message"' in page.text and "D000002" not in page.text


def test_an_investigator_sees_donors_and_the_look_is_recorded(site: Site) -> None:
    page = site.as_("investigator").get(f"/units/{GIVEN}")
    assert "D000002" in page.text and "P000002" in page.text
    assert site.revealed()[0] == (
        "investigator",
        "page:/units/{din}",
        {("donor", "D000002"), ("patient", "P000002")},
    )


def test_the_unit_page_shows_the_timeline_flags_and_late_arrivals(site: Site) -> None:
    page = site.as_("clinician").get(f"/units/{FLAGGED}?lang=en").text
    assert data_of(page, "flag") == ["NO_BEDSIDE_CHECK"]
    explanation = "The transfusion was started without a passed bedside pre-transfusion check."
    assert explanation in page
    types = data_of(page, "event-type")
    assert types[0] == "DonationCollected" and types[-1] == "TransfusionStarted"
    late = dict(zip(types, data_of(page, "late"), strict=True))
    assert late["UnitReceived"] == "true"
    assert {t for t, is_late in late.items() if is_late == "true"} <= {
        "UnitReceived",
        "ComponentProduced",  # recorded after the tests, which happened later (story order)
    }
    assert late["CrossmatchPerformed"] == "false"


def test_as_of_and_known_at_show_the_unit_as_it_stood_and_as_the_ledger_knew_it(
    site: Site,
) -> None:
    site.as_("investigator")
    before = site.get(f"/units/{FLAGGED}?as_of=2026-09-01T17:00&lang=en").text  # issued
    assert data_of(before, "status") and set(data_of(before, "status")) == {"IN_TRANSIT"}
    assert "As of" in before and 'id="as-of-banner"' in before
    assert "UnitReceived" not in data_of(before, "event-type")
    recorded = [f for u in site.served.models.ledger.units_of(FLAGGED, None) for f in u.facts]
    receipt = next(f for f in recorded if f.EVENT_TYPE == "UnitReceived").timestamp
    just_before = (receipt - timedelta(microseconds=1)).isoformat()  # as a link writes it
    earlier = site.get(f"/units/{FLAGGED}", params={"known_at": just_before, "lang": "en"})
    assert earlier.status_code == 200
    assert 'id="known-at-banner"' in earlier.text
    assert "UnitReceived" not in data_of(earlier.text, "event-type")
    assert "UnitIssued" in data_of(earlier.text, "event-type")


def test_only_investigators_and_regulators_trace_and_the_graph_links_each_node(
    site: Site,
) -> None:
    assert site.as_("clinician").get(f"/trace?din={GIVEN}").status_code == 403
    page = site.as_("investigator").get("/trace", params={"donor": "D000002"})
    assert page.status_code == 200
    nodes = data_of(page.text, "testid")
    for node in (
        "node-donor-D000002",
        f"node-donation-{GIVEN}",
        f"node-unit-{GIVEN}-{RBC}",
        "node-recipient-P000002",
    ):
        assert node in nodes
    assert f'href="/units/{GIVEN}?product={RBC}"' in page.text
    assert 'href="/trace?patient=P000002"' in page.text
    assert site.revealed()[0] == (
        "investigator",
        "page:/trace",
        {("donor", "D000002"), ("patient", "P000002")},
    )


def test_a_flagged_unit_is_drawn_flagged(site: Site) -> None:
    page = site.as_("regulator").get(f"/trace?din={FLAGGED}").text
    unit = re.search(rf'data-testid="node-unit-{FLAGGED}-{RBC}"[^>]*', page)
    assert unit and 'data-flagged="true"' in unit.group(0)
    assert 'data-flags="NO_BEDSIDE_CHECK"' in unit.group(0)


def test_trace_asks_for_exactly_one_of_donor_patient_din(site: Site) -> None:
    site.as_("investigator")
    assert site.get("/trace").status_code == 200  # the form alone
    both = site.get("/trace", params={"donor": "D000001", "din": GIVEN})
    assert both.status_code == 422 and 'data-testid="error-message"' in both.text


def test_the_inventory_of_a_clinician_is_its_facility_only(site: Site) -> None:
    page = site.as_("clinician").get("/inventory", params={"as_of": ON_SHELF}).text
    assert set(data_of(page, "facility")) == {HOSPITAL}
    assert 'name="facility"' not in page  # nothing to choose
    refused = site.get("/inventory", params={"facility": OTHER})
    assert refused.status_code == 403
    everyone = site.as_("regulator").get("/inventory", params={"as_of": ON_SHELF}).text
    assert set(data_of(everyone, "facility")) == {HOSPITAL, "S3101"}


def test_the_dashboard_shows_the_api_s_numbers_with_their_alert_levels(site: Site) -> None:
    site.as_("regulator")
    page = site.get("/inventory", params={"as_of": ON_SHELF, "lang": "en"}).text
    api = site.client.get(
        "/api/v1/inventory",
        params={"as_of": ON_SHELF + ":00Z"},
        headers={"Authorization": f"Bearer {site.tokens['regulator']}"},
    ).json()
    assert stock_cells(page) == {
        (r["facility"], r["component"], r["abo"], r["rhd"], r["alert"], str(r["available"]))
        for r in api
    }
    hospital = next(r for r in api if r["facility"] == HOSPITAL)
    assert hospital["available"] == 3  # WAITING, GIVEN and FLAGGED on the shelf then
    assert hospital["alert"] == "GREEN" and "3 units · 6 U" in page
    centre = next(r for r in api if r["facility"] != HOSPITAL)
    assert centre["alert"] == "EMERGENCY"  # issued it all: a centre's emergency
    assert "Centre emergency" in page and "Blood centre S3101" in page


def test_the_colours_legend_shows_the_thresholds_in_force(durable_store_url: str) -> None:
    """The legend's table is the server's policy, never numbers of a template: the
    defaults for every component, a component's own where it has them (platelets by
    default, cryo as configured here)."""
    policy = AlertPolicy(hospital_yellow_days=4, window_days=7).overriding(
        [("CRYO", Thresholds(6, 5, 4, 8))]
    )
    with (
        serving(durable_store_url, policy=policy) as (served, tokens),
        TestClient(create_app(served.services)) as client,
    ):
        site = Site(client, tokens, served, case_id="")
        english = site.as_("regulator").get("/inventory", params={"lang": "en"}).text
        chinese = site.get("/inventory", params={"lang": "zh"}).text
    legend = english.split('data-testid="alert-thresholds"')[1].split("</table>")[0]
    rows = re.findall(r'data-component="(\w+)">(.*?)</tr>', legend, re.S)
    shown = {c: re.findall(r'<td class="number">([^<]*)</td>', cells) for c, cells in rows}
    assert shown == {
        "RED_CELLS": ["4", "2", "1", "5"],
        "WHOLE_BLOOD": ["4", "2", "1", "5"],
        "PLATELETS": ["1.5", "1", "0.5", "2"],
        "PLASMA": ["4", "2", "1", "5"],
        "CRYO": ["6", "5", "4", "8"],
    }
    assert "average daily use over the last 7 days" in english
    assert "最近7天的日均用量" in chinese and "颜色的含义" in chinese


def stock_cells(page: str) -> set[tuple[str, ...]]:
    """(facility, component, abo, rhd, alert, available) of every cell of the grids."""
    cells = set()
    for table in page.split('data-testid="inventory-facility"')[1:]:
        facility = re.match(r'\s*data-facility="(\w+)"', table)
        assert facility
        for cell in re.findall(r'data-testid="stock-cell"([^>]*)>', table):
            values = dict(re.findall(r'data-(\w+)="([^"]*)"', cell))
            cells.add((facility.group(1), *(values[k] for k in
                       ("component", "abo", "rhd", "alert", "available"))))  # fmt: skip
    return cells


def test_alerts_of_a_clinician_are_those_of_its_facility(site: Site) -> None:
    investigator = site.as_("investigator").get("/alerts").text
    assert "SAFETY_FLAG" in data_of(investigator, "kind")
    assert "NO_BEDSIDE_CHECK" in data_of(investigator, "flag")
    clinician = site.as_("clinician-other").get("/alerts").text
    assert "SAFETY_FLAG" not in data_of(clinician, "kind")  # as the API: no facility on them
    api = site.client.get(
        "/api/v1/alerts", headers={"Authorization": f"Bearer {site.tokens['clinician-other']}"}
    ).json()
    assert data_of(clinician, "kind") == [e["kind"] for e in api][: len(data_of(clinician, "kind"))]


def test_a_lookback_case_lists_units_recipients_and_notices(site: Site) -> None:
    assert site.as_("clinician").get(f"/lookbacks/{site.case_id}").status_code == 403
    page = site.as_("regulator").get(f"/lookbacks/{site.case_id}").text
    quarantined = page.split('data-testid="units-quarantined"')[1].split("</section>")[0]
    assert f'data-din="{WAITING}"' in quarantined
    notices = page.split('data-testid="notices"')[1].split("</section>")[0]
    assert data_of(notices, "open") == ["true"]
    assert "D000001" in page  # a regulator sees the donor, and that is recorded
    assert site.revealed()[0][:2] == ("regulator", "page:/lookbacks/{case_id}")
    listed = site.get("/lookbacks").text
    assert site.case_id in data_of(listed, "case")


def test_the_navigation_offers_what_the_role_may_open(site: Site) -> None:
    clinician = site.as_("clinician").get("/").text
    assert re.findall(r'data-testid="nav-(\w+)"', clinician) == [
        "units",
        "inventory",
        "alerts",
        "reports",
    ]
    investigator = site.as_("investigator").get("/").text
    assert "nav-trace" in investigator and "nav-lookbacks" in investigator
    admin = site.as_("admin").get("/")
    assert admin.status_code == 200 and 'id="no-pages"' in admin.text
    assert site.get(f"/units/{GIVEN}").status_code == 403


# -- languages ---------------------------------------------------------------------------


def test_the_language_follows_accept_language_then_the_switch(site: Site) -> None:
    site.as_("regulator")
    zh = translations("zh_CN", "pages")
    english = site.get("/inventory", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Inventory dashboard" in english.text
    chinese = site.get("/inventory", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-CN">' in chinese.text
    assert zh.gettext("Inventory dashboard") in chinese.text
    assert 'href="/inventory?lang=en"' in chinese.text  # the switch
    switched = site.get("/inventory?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "Inventory dashboard" in switched.text
    assert "bl_lang=en" in switched.headers["set-cookie"]
    remembered = site.get("/inventory", headers={"Accept-Language": "zh-CN"})
    assert "Inventory dashboard" in remembered.text  # the cookie wins over the header


def test_chinese_is_the_default_and_dates_are_in_its_format(site: Site) -> None:
    page = site.as_("clinician").get(f"/units/{GIVEN}").text
    assert '<html lang="zh-CN">' in page
    assert "2026年9月1日 08:00:00 UTC" in page  # collected at START, in UTC
    assert "红细胞" in page
    english = site.get(f"/units/{GIVEN}?lang=en").text
    assert "Sep 1, 2026, 8:00:00\u202fAM UTC" in english or "Sep 1, 2026, 8:00:00 AM UTC" in english


def test_every_page_has_the_switch_and_the_sign_out(site: Site) -> None:
    site.as_("investigator")
    pages = ["/", "/units", f"/units/{GIVEN}", f"/trace?din={GIVEN}", "/inventory", "/alerts",
             "/lookbacks", f"/lookbacks/{site.case_id}", "/reports"]  # fmt: skip
    for path in pages:
        page = site.get(path)
        assert page.status_code == 200, path
        assert 'data-testid="lang-zh"' in page.text and 'data-testid="lang-en"' in page.text
        assert 'data-testid="sign-out"' in page.text, path
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert page.headers["cache-control"] == "no-store"


def texts_of(html: str, testid: str) -> list[str]:
    """The text of each element with ``data-testid=testid`` (its tags left out)."""
    found = re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</(?:p|li)>', html, re.S)
    return [re.sub(r"<[^>]+>", "", text).strip() for text in found]


def test_the_ledgers_own_sentences_are_said_in_the_pages_language(site: Site) -> None:
    """A finding's detail, why an acknowledgement closed nothing, what a lookback could
    not determine: said from their codes, in Chinese on a Chinese page, in English on
    an English one — never the recorded English marked ``lang="en"``."""
    answer = Timeline(din=FLAGGED)
    answer.acknowledged("no-such-notice", hour=30)
    site.served.models.ledger.record(answer.facts)
    site.served.models.projector.catch_up()
    zh, en = Words.of("zh_CN"), Words.of("en")
    bedside = "BEDSIDE_CHECK_NOT_PASSED"
    site.as_("investigator")
    unit = site.get(f"/units/{FLAGGED}").text
    assert texts_of(unit, "flag-detail") == [zh.sentence("detail", bedside)]
    assert "bedside check not passed" not in unit
    english = site.get(f"/units/{FLAGGED}?lang=en").text
    assert texts_of(english, "flag-detail") == [en.sentence("detail", bedside)]
    alerts = site.get("/alerts?lang=zh").text
    assert zh.sentence("detail", bedside) in texts_of(alerts, "flag-detail")
    [why] = texts_of(alerts, "unmatched-why")
    assert why.endswith(str(zh.sentence("unmatched", "NO_SUCH_NOTICE")))
    assert "names no notice" not in alerts
    case = site.get(f"/lookbacks/{site.case_id}").text
    undetermined = texts_of(case, "undetermined-item")
    assert str(zh.sentence("undetermined", "COLLECTIONS_UNREPORTED")) in undetermined
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in undetermined)
    assert 'lang="en"' not in case.split('id="undetermined"')[1].split("</section>")[0]
    # what a person typed stays as typed, marked where it is not the page's language
    assert '<span lang="en">recipient seroconverted</span>' in case
    in_english = site.get(f"/lookbacks/{site.case_id}?lang=en").text
    assert "recipient seroconverted" in in_english and '<span lang="en">' not in in_english


# -- errors --------------------------------------------------------------------------------


def test_an_unknown_din_or_case_is_a_404_page(site: Site) -> None:
    site.as_("investigator")
    unknown = din(99)
    page = site.get(f"/units/{unknown}?lang=en")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert f"No units of DIN {unknown} are recorded." in page.text
    case = site.get("/lookbacks/LB-NOSUCHCASE?lang=en")
    assert case.status_code == 404 and "There is no lookback case LB-NOSUCHCASE." in case.text


def test_a_bad_din_or_date_gets_a_clear_message_not_a_500(site: Site) -> None:
    site.as_("investigator")
    bad_din = site.get("/units/NOT-A-DIN?lang=en")
    assert bad_din.status_code == 422 and "not a valid DIN" in bad_din.text
    bad_date = site.get(f"/units/{GIVEN}", params={"as_of": "yesterday", "lang": "en"})
    assert bad_date.status_code == 400
    assert "“As of” is not a date and time" in bad_date.text
    assert 'id="unit-when"' in bad_date.text  # the form is there to correct it
    stock = site.get("/inventory", params={"as_of": "31/12/2026"})
    assert stock.status_code == 400 and 'data-testid="problem"' in stock.text


def test_a_parameter_a_page_does_not_take_is_an_html_page(site: Site) -> None:
    site.as_("investigator")
    page = site.get(f"/units/{GIVEN}?asof=2026-09-01")
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    api = site.client.get(
        f"/api/v1/units/{GIVEN}?asof=2026-09-01",
        headers={"Authorization": f"Bearer {site.tokens['investigator']}"},
    )
    assert api.status_code == 422 and api.json()["error"] == "invalid_request"  # JSON still


# -- in place, and the files ------------------------------------------------------------------


def test_htmx_gets_the_fragment_it_swaps_in(site: Site) -> None:
    site.as_("regulator")
    fragment = site.get("/inventory", params={"as_of": ON_SHELF}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="inventory-table"')
    assert "<html" not in fragment.text
    switch = fragment.text.split('id="language-switch"')[1].split("</div>")[0]
    assert 'hx-swap-oob="true"' in switch  # the switch keeps the new "as of"
    assert "as_of=2026-09-01T21%3A00" in switch and "lang=en" in switch
    alerts = site.get("/alerts", headers={"HX-Request": "true"}).text
    assert alerts.lstrip().startswith('<section id="alerts-list"')
    site.client.cookies.clear()
    away = site.get("/alerts", headers={"HX-Request": "true"})
    assert away.status_code == 204 and away.headers["hx-redirect"].startswith("/login?next=")


def test_the_static_files_are_served_beside_the_api_s_docs(site: Site) -> None:
    script = site.get("/static/htmx/htmx.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    style = site.get("/static/pages.css")
    assert style.status_code == 200 and ".alert-red" in style.text
    assert site.get("/static/docs/swagger-ui.css").status_code == 200
    assert site.get("/docs").status_code == 200


# -- reports -----------------------------------------------------------------------------------


def test_a_clinician_makes_its_facility_s_reports(site: Site) -> None:
    site.as_("clinician")
    form = site.get("/reports").text
    assert 'name="facility"' not in form and HOSPITAL in form
    window = {"from": "2026-09-01", "to": "2026-09-30"}
    data = site.get("/reports/qc", params={**window, "format": "json"})
    assert data.status_code == 200 and data.headers["content-type"] == "application/json"
    assert data.json()["kind"] == "qc" and HOSPITAL in data.text
    page = site.get("/reports/hemovigilance", params={**window, "format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "'unsafe-inline'" in page.headers["content-security-policy"]  # its own styles
    other = site.get("/reports/qc", params={**window, "facility": OTHER, "format": "json"})
    assert other.status_code == 403


def test_a_report_that_cannot_be_made_says_why_on_the_form(site: Site) -> None:
    site.as_("regulator")
    no_facility = site.get("/reports/qc", params={"from": "2026-09-01", "to": "2026-09-30"})
    assert no_facility.status_code == 400 and 'data-testid="problem"' in no_facility.text
    backwards = site.get(
        "/reports/qc", params={"facility": HOSPITAL, "from": "2026-09-30", "to": "2026-09-01"}
    )
    assert backwards.status_code == 400 and 'id="report-qc-form"' in backwards.text
    # said in the page's language (Chinese, by default), from the refusal's code
    assert str(Words.of("zh_CN").sentence("refusal", "ENDS_BEFORE_START")) in backwards.text
    asked = translations("zh_CN", "pages").gettext("give the facility (its 5-character FIN)")
    assert asked in no_facility.text and "give the facility" not in no_facility.text
    english = site.get(
        "/reports/qc",
        params={"facility": HOSPITAL, "from": "2026-09-30", "to": "2026-09-01", "lang": "en"},
    )
    assert "the last day must not come before the first" in english.text
    assert site.get("/reports/nonsense").status_code == 404


def test_a_failure_is_a_page_that_says_so_never_a_stack_trace(durable_store_url: str) -> None:
    with (
        serving(durable_store_url) as (served, tokens),
        TestClient(create_app(served.services), raise_server_exceptions=False) as client,
    ):
        form = client.get("/login")
        client.post("/login", data={"token": tokens["regulator"], "csrf": csrf_of(form.text)})
        served.models.view.close()  # the read models' connections are gone
        page = client.get("/lookbacks", headers={"Accept-Language": "en"})
        assert page.status_code >= 500 and page.headers["content-type"].startswith("text/html")
        message = re.search(r'data-testid="error-message"[^>]*>([^<]*)<', page.text)
        assert message and message.group(1) == "The ledger could not answer; the error is logged."
        assert "Traceback" not in page.text and "Closed" not in page.text
