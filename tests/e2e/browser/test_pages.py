"""The pages as a person meets them: real headless Chromium against ``bloodledger serve``
on the demo region, signed in through the form with a token of each role.

Each test reads what a person would read — the words on the screen, the colours the
browser computed, where a click leads — and compares it with what the JSON API
answers the same token, so a page cannot show more, less or other than the ledger
holds. Every page visited is saved as a screenshot (``<page>-<lang>.png``), checked
with axe-core (no serious or critical violation) and checked whole: no script error,
no asset missing, nothing fetched from outside the server.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from ledger.entrypoints import i18n
from ledger.entrypoints.glossary import Words
from ledger.entrypoints.pages import ALERTS_SHOWN
from ledger.entrypoints.sessions import SESSION_COOKIE
from tests.e2e.browser.harness import Person, Region, Server

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

Someone = Callable[..., Person]

#: (the short code in names and ``?lang=``, the catalog, the browser's locale, <html lang>)
LANGUAGES = {
    "zh": ("zh_CN", "zh-CN", "zh-CN"),
    "en": ("en", "en-US", "en"),
}
BOTH = pytest.mark.parametrize("lang", list(LANGUAGES))
#: A word every signed-in page shows (the navigation's), by <html lang>: the issue's
#: own example of the switch, and the 临床用血 rules' term.
INVENTORY = {"zh-CN": "库存", "en": "Inventory"}


def words(lang: str) -> Words:
    return Words.of(LANGUAGES[lang][0])


def say(lang: str, message: str) -> str:
    """A message as the page's catalog words it in ``lang``."""
    return str(i18n.translations(LANGUAGES[lang][0], "pages").gettext(message))


def as_of(region: Region) -> str:
    """The demo's last moment, as the pages' "as of" field takes it."""
    return region.last.strftime("%Y-%m-%dT%H:%M:%S")


def html_lang(page: Page) -> str | None:
    return page.locator("html").get_attribute("lang")


def attributes(locator: Locator, name: str) -> list[str]:
    return [str(v) for v in locator.evaluate_all(f"els => els.map(e => e.getAttribute('{name}'))")]


def session_cookies(person: Person) -> list[dict[str, Any]]:
    return [dict(c) for c in person.context.cookies() if c["name"] == SESSION_COOKIE]


# -- signing in and out ------------------------------------------------------------


@BOTH
def test_a_wrong_token_is_refused_and_a_right_one_lands_on_the_page_asked_for(
    person: Someone, region: Region, lang: str
) -> None:
    someone = person(locale=LANGUAGES[lang][1])
    page = someone.page
    page.goto("/inventory")  # not signed in: sent to sign in first, then back here
    assert urlsplit(page.url).path == "/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/inventory"]
    assert html_lang(page) == LANGUAGES[lang][2]
    page.locator("input[name=token]").fill("bl_" + "0" * 40)
    with page.expect_navigation():
        page.get_by_test_id("sign-in").click()
    problem = page.get_by_test_id("problem")
    expect(problem).to_have_text(
        say(lang, "This token was not accepted: it is unknown, revoked or mistyped.")
    )
    assert session_cookies(someone) == []
    someone.look(f"login-refused-{lang}")

    page.locator("input[name=token]").fill(region.tokens["investigator"])
    with page.expect_navigation():
        page.locator("input[name=token]").press("Enter")
    assert urlsplit(page.url).path == "/inventory"
    expect(page.get_by_test_id("signed-in")).to_contain_text("investigator")
    (cookie,) = session_cookies(someone)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert region.tokens["investigator"] not in cookie["value"]  # the cookie is no token


def test_signing_out_ends_the_session_in_that_browser(person: Someone) -> None:
    someone = person("investigator")
    page = someone.open("/")
    expect(page.get_by_test_id("signed-in")).to_contain_text("investigator")
    someone.look("home-zh")
    with page.expect_navigation():
        page.get_by_test_id("sign-out").click()
    assert urlsplit(page.url).path == "/login"
    assert session_cookies(someone) == []
    page.goto("/inventory")
    assert urlsplit(page.url).path == "/login"
    expect(page.get_by_test_id("signed-in")).to_have_count(0)


# -- the language ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"), [("zh-CN", "zh-CN"), ("en-GB", "en"), ("fr-FR", "zh-CN")]
)
def test_the_first_language_comes_from_the_browser_and_else_is_chinese(
    person: Someone, locale: str, expected: str
) -> None:
    page = person("investigator", locale=locale).open("/")
    assert html_lang(page) == expected
    expect(page.get_by_test_id("nav-inventory")).to_have_text(INVENTORY[expected])


def test_the_language_switch_changes_the_words_and_is_remembered(
    person: Someone, region: Region
) -> None:
    someone = person("investigator", locale="zh-CN")
    page = someone.open(f"/inventory?as_of={as_of(region)}")
    nav = page.get_by_test_id("nav-inventory")
    expect(nav).to_have_text(INVENTORY["zh-CN"])
    assert html_lang(page) == "zh-CN"
    with page.expect_navigation():
        page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("nav-inventory")).to_have_text(INVENTORY["en"])
    assert html_lang(page) == "en"
    query = parse_qs(urlsplit(page.url).query)
    assert query["as_of"] == [as_of(region)], "the switch keeps the page's question"
    page = someone.open("/alerts")  # chosen once, remembered on the next page
    expect(page.get_by_test_id("nav-alerts")).to_have_text("Alerts")
    with page.expect_navigation():
        page.get_by_test_id("lang-zh").click()
    expect(page.get_by_test_id("nav-inventory")).to_have_text(INVENTORY["zh-CN"])
    assert html_lang(page) == "zh-CN"


# -- a DIN's units -------------------------------------------------------------------


#: Each unit section of the unit page: its status, its flags with the words explaining
#: them, and how many facts its timeline lists.
_UNITS = """() => Object.fromEntries([...document.querySelectorAll('[data-testid=unit]')].map(
    u => [u.dataset.product, {
        status: u.dataset.status,
        flags: [...u.querySelectorAll('[data-testid=flag]')].map(f => [
            f.dataset.flag, f.querySelector('[data-testid=flag-explanation]').innerText.trim()
        ]).sort(),
        facts: u.querySelectorAll('[data-testid=fact]').length}]))"""


@BOTH
def test_the_unit_page_shows_the_din_its_units_and_each_flag_explained(
    person: Someone, server: Server, region: Region, lang: str
) -> None:
    din = region.flagged("ABO_INCOMPATIBLE")
    document = server.api(region.tokens["investigator"], f"/api/v1/units/{din}")
    someone = person("investigator", locale=LANGUAGES[lang][1])
    page = someone.open(f"/units/{din}")
    expect(page.get_by_test_id("din")).to_have_text(din)
    glossary, other = words(lang), words("en" if lang == "zh" else "zh")
    shown = page.evaluate(_UNITS)
    assert shown == {
        u["product_code"]: {
            "status": u["state"]["status"],
            "flags": sorted(
                [f["flag"], glossary.term("explanation", f["flag"])] for f in u["findings"]
            ),
            "facts": len(u["events"]),
        }
        for u in document["units"]
    }
    planted = page.locator("[data-testid=flag][data-flag=ABO_INCOMPATIBLE]").first
    expect(planted.get_by_test_id("flag-explanation")).to_be_visible()
    explained = planted.get_by_test_id("flag-explanation").inner_text()
    assert explained != other.term("explanation", "ABO_INCOMPATIBLE"), "in the page's language"
    assert any(u["findings"] for u in document["units"]), "the planted flag is on the page"
    finding = next(
        f for u in document["units"] for f in u["findings"] if f["flag"] == "ABO_INCOMPATIBLE"
    )
    said = glossary.sentence("detail", finding["detail_code"], finding["detail_fields"])
    assert said and said != finding["detail"]  # the ledger's words, not its recorded English
    expect(planted.get_by_test_id("flag-detail").first).to_have_text(said)
    someone.look(f"unit-{lang}")


def test_a_clinician_sees_its_facility_s_units_without_the_donor(
    person: Someone, server: Server, region: Region
) -> None:
    own = str(region.facility_of["clinician"])
    at_own = [f.din for f in region.stream.facts if f.facility == own and f.product_code]
    din = at_own[0]
    donor = next(
        str(f.payload["donor_id"])
        for f in region.stream.facts
        if f.din == din and f.payload.get("donor_id")
    )
    document = server.api(region.tokens["clinician"], f"/api/v1/units/{din}")
    someone = person("clinician")
    page = someone.open(f"/units/{din}")
    assert sorted(page.evaluate(_UNITS)) == sorted(u["product_code"] for u in document["units"])
    expect(page.get_by_test_id("withheld").first).to_be_visible()
    assert donor not in page.locator("body").inner_text()
    assert donor in person("investigator").open(f"/units/{din}").locator("body").inner_text()
    someone.look("unit-clinician-zh")
    reached = {
        f.din for f in region.stream.facts if own in (f.facility, f.payload.get("to_facility"))
    }
    elsewhere = next(f.din for f in region.stream.facts if f.din not in reached)
    answer = page.goto(f"/units/{elsewhere}")
    assert answer is not None and answer.status == 403
    expect(page.get_by_test_id("error-message")).to_be_visible()
    assert page.get_by_test_id("unit").count() == 0


def test_the_unit_page_marks_a_fact_that_arrived_late(person: Someone, region: Region) -> None:
    din, product, event_id = region.late_arrival()
    page = person("investigator").open(f"/units/{din}?product={product}")
    fact = page.locator(f"#fact-{product}-{event_id}")
    assert fact.get_attribute("data-late") == "true"
    expect(fact.get_by_test_id("late")).to_be_visible()
    on_time = page.locator("[data-testid=fact][data-late=false]")
    assert on_time.count() > 0, "only the late facts are marked"


def test_the_unit_page_as_of_a_moment_shows_the_unit_as_it_then_stood(
    person: Someone, server: Server, region: Region
) -> None:
    din = region.flagged("ABO_INCOMPATIBLE")
    token = region.tokens["investigator"]
    collected = min(
        f.occurred_at for f in region.stream.facts if f.din == din and f.is_donation_level
    )
    moment = (collected.replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M:%S")
    then = server.api(token, f"/api/v1/units/{din}", as_of=moment + "Z")
    now = server.api(token, f"/api/v1/units/{din}")
    status = {u["product_code"]: u["state"]["status"] for u in now["units"]}
    assert then["units"] and any(
        u["state"]["status"] != status[u["product_code"]] for u in then["units"]
    ), "the unit stood otherwise then"
    someone = person("investigator", locale="en-US")
    page = someone.open(f"/units/{din}")
    page.locator("#as_of").fill(moment)
    with page.expect_navigation():
        page.get_by_test_id("apply-when").click()
    expect(page.locator("#as-of-banner")).to_be_visible()
    for unit in then["units"]:
        section = page.locator(f"[data-testid=unit][data-product='{unit['product_code']}']")
        assert section.get_attribute("data-status") == unit["state"]["status"]
        expect(section.get_by_test_id("fact")).to_have_count(len(unit["events"]))


# -- the inventory dashboard -----------------------------------------------------------


#: Each stock cell of the dashboard: (facility, component, ABO, RhD, alert level), its
#: computed background and its classes.
_CELLS = """() => [...document.querySelectorAll('[data-testid=stock-cell]')].map(c => [
    c.closest('[data-testid=inventory-facility]').dataset.facility,
    c.dataset.component, c.dataset.abo, c.dataset.rhd, c.dataset.alert,
    getComputedStyle(c).backgroundColor, c.className])"""


def _rows(page: Page) -> list[tuple[str, ...]]:
    """Each stock group the page shows, as (facility, component, ABO, RhD, alert level)."""
    return [tuple(cell[:5]) for cell in page.evaluate(_CELLS)]


def _api_rows(answer: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [(r["facility"], r["component"], r["abo"], r["rhd"], r["alert"]) for r in answer]


def _hue(colour: str) -> float:
    """The hue (degrees, reds near 0 taken as negative from 300) of ``rgb(r, g, b)``."""
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", colour)[:3])
    hue = colorsys.rgb_to_hsv(r, g, b)[0] * 360
    return hue - 360 if hue > 300 else hue


@BOTH
def test_the_dashboard_colours_days_of_supply_by_alert_level(
    person: Someone, server: Server, region: Region, lang: str
) -> None:
    answer = server.api(
        region.tokens["investigator"], "/api/v1/inventory", as_of=region.last.isoformat()
    )
    someone = person("investigator", locale=LANGUAGES[lang][1])
    page = someone.open(f"/inventory?as_of={as_of(region)}")
    assert sorted(_rows(page)) == sorted(_api_rows(answer))
    backgrounds: dict[str, set[str]] = {}
    for *_, level, background, classes in page.evaluate(_CELLS):
        assert any(c.startswith("alert") and c.endswith(level.lower()) for c in classes.split())
        backgrounds.setdefault(level, set()).add(background)
    levels = {row["alert"] for row in answer}
    assert {"YELLOW", "ORANGE", "RED", "EMERGENCY"} <= levels, "the demo shows every level"
    assert all(len(shades) == 1 for shades in backgrounds.values()), backgrounds
    shade = {level: next(iter(shades)) for level, shades in backgrounds.items()}
    assert len(set(shade.values())) == len(shade), f"each level its own colour: {shade}"
    assert _hue(shade["RED"]) < _hue(shade["ORANGE"]) < _hue(shade["YELLOW"]) < 75, shade
    summary = page.get_by_test_id("alert-summary")
    for level in levels:
        count = sum(row["alert"] == level for row in answer)
        expect(summary.locator(f"[data-alert={level}] .count")).to_have_text(str(count))
    reserved = [r for r in answer if r["reserved_autologous"]]
    assert reserved, "the region keeps autologous blood on its shelves"
    marked = page.locator("[data-testid=stock-cell]:has([data-testid=reserved-autologous])")
    expect(marked).to_have_count(len(reserved))
    legend = page.get_by_test_id("alert-levels")
    legend.locator("summary").click()  # opened: its table is looked at (and checked) too
    expect(legend.get_by_test_id("component-thresholds")).to_have_count(5)
    someone.look(f"inventory-{lang}")


def test_the_dashboard_as_of_field_updates_the_table_in_place(
    person: Someone, server: Server, region: Region
) -> None:
    someone = person("investigator", locale="en-US")
    page = someone.open(f"/inventory?as_of={as_of(region)}")
    first = region.stream.facts[0].occurred_at
    earlier = (first + (region.last - first) / 2).replace(microsecond=0)
    moment = earlier.strftime("%Y-%m-%dT%H:%M:%S")
    answer = server.api(region.tokens["investigator"], "/api/v1/inventory", as_of=moment + "Z")
    page.evaluate("window.__same_page = true")  # gone if the whole page reloads
    with page.expect_response(lambda r: "/inventory" in r.url and r.request.method == "GET"):
        page.locator("#as_of").fill(moment)
        page.get_by_test_id("apply-inventory").click()
    shown = page.get_by_test_id("inventory-as-of")  # the moment asked for, in English
    expect(shown).to_contain_text(i18n.format_instant(earlier, "en"))
    expect(page.get_by_test_id("stock-cell")).to_have_count(len(answer))
    assert sorted(_rows(page)) == sorted(_api_rows(answer))
    assert page.evaluate("window.__same_page === true"), "htmx swapped the table in place"
    assert parse_qs(urlsplit(page.url).query)["as_of"] == [moment]
    someone.visit.assert_clean()


def test_a_clinician_sees_only_its_own_facility(
    person: Someone, server: Server, region: Region
) -> None:
    own = region.facility_of["clinician"]
    answer = server.api(
        region.tokens["clinician"], "/api/v1/inventory", as_of=region.last.isoformat()
    )
    someone = person("clinician")
    page = someone.open(f"/inventory?as_of={as_of(region)}")
    shown = attributes(page.get_by_test_id("inventory-facility"), "data-facility")
    assert shown == [own]
    assert sorted(_rows(page)) == sorted(_api_rows(answer))
    expect(page.locator("#inventory-scope")).to_contain_text(str(own))
    page.goto(f"/inventory?as_of={as_of(region)}&facility={region.stream.centre}")
    assert attributes(page.get_by_test_id("inventory-facility"), "data-facility") in ([own], [])
    everyone = person("investigator").open(f"/inventory?as_of={as_of(region)}")
    assert len(attributes(everyone.get_by_test_id("inventory-facility"), "data-facility")) > 1
    someone.look("inventory-clinician-zh")


# -- traces --------------------------------------------------------------------------


def _question(server: Server, region: Region, kind: str) -> str:
    """A question of ``kind`` whose trace has a recipient: about the patient, the donor
    and the DIN of the unit transfused across ABO groups."""
    din = region.flagged("ABO_INCOMPATIBLE")
    if kind == "din":
        return din
    document = server.api(region.tokens["investigator"], f"/api/v1/units/{din}")
    events = [e for u in document["units"] for e in u["events"]]
    field = "donor_id" if kind == "donor" else "patient_id"
    return str(next(e[field] for e in events if e.get(field)))


def _expected_href(kind: str, key: list[str]) -> str:
    if kind == "unit":
        return f"/units/{key[0]}?product={key[1]}"
    if kind == "donation":
        return f"/units/{key[0]}"
    return f"/trace?{'patient' if kind == 'recipient' else 'donor'}={key[0]}"


@pytest.mark.parametrize(("kind", "lang"), [("donor", "zh"), ("patient", "en"), ("din", "zh")])
def test_the_trace_graph_draws_every_node_each_a_link_to_its_page(
    person: Someone, server: Server, region: Region, kind: str, lang: str
) -> None:
    question = _question(server, region, kind)
    document = server.api(region.tokens["investigator"], "/api/v1/trace", **{kind: question})
    expected: dict[str, set[tuple[str, ...]]] = {
        "donor": {(d,) for d in document["donors"]},
        "donation": {(d["din"],) for d in document["donations"]},
        "unit": {(u["din"], u["product_code"]) for u in document["units"]},
        "recipient": {(r["patient_id"],) for r in document["recipients"]},
    }
    assert expected["recipient"], "the question reaches a recipient"
    someone = person("investigator", locale=LANGUAGES[lang][1])
    page = someone.open(f"/trace?{kind}={question}")
    nodes = page.locator("[data-testid=trace-graph] g[data-kind]")
    assert nodes.count() == sum(len(v) for v in expected.values())
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=trace-graph] g[data-kind]')]
            .map(g => [g.dataset.kind, g.dataset.testid, g.dataset.flags,
                       g.querySelector('a') && g.querySelector('a').getAttribute('href'),
                       getComputedStyle(g.querySelector('rect')).fill,
                       getComputedStyle(g.querySelector('rect')).stroke, g.dataset.status])"""
    )
    flags_of = {(u["din"], u["product_code"]): sorted(u["flags"]) for u in document["units"]}
    by_status: dict[str, set[str]] = {}
    for node_kind, testid, flags, href, fill, _stroke, status in drawn:
        key = testid.removeprefix(f"node-{node_kind}-").split("-")
        if node_kind == "unit":
            key = ["-".join(key[:-1]), key[-1]]
            assert sorted(filter(None, flags.split(","))) == flags_of[tuple(key)]
            by_status.setdefault(status, set()).add(fill)
        assert tuple(key) in expected[node_kind], (node_kind, key)
        assert href == _expected_href(node_kind, key), (node_kind, key, href)
    if len(by_status) > 1:  # statuses are told apart by colour
        fills = [next(iter(f)) for f in by_status.values()]
        assert len(set(fills)) == len(fills), by_status
    flagged = [d for d in drawn if d[2]]
    plain = [d for d in drawn if not d[2]]
    if flagged and plain:
        assert {d[5] for d in flagged}.isdisjoint({d[5] for d in plain}), "flags are outlined"
    for clicked in ("unit", "recipient"):  # a click on a box opens its page
        box = page.locator(f"[data-testid=trace-graph] g[data-kind={clicked}] a").first
        target = str(box.get_attribute("href"))
        with page.expect_navigation():
            box.click()
        assert page.url.endswith(target)
        if clicked == "unit":
            expect(page.get_by_test_id("din")).to_have_text(urlsplit(target).path.split("/")[-1])
        else:
            expect(page.get_by_test_id("trace-graph")).to_be_visible()
        page = someone.open(f"/trace?{kind}={question}")
    someone.look(f"trace-{kind}-{lang}")


# -- alerts, lookbacks, reports --------------------------------------------------------


@BOTH
def test_the_alerts_page_lists_the_safety_flags_with_their_explanation(
    person: Someone, server: Server, region: Region, lang: str
) -> None:
    answer = server.api(region.tokens["investigator"], "/api/v1/alerts")
    someone = person("investigator", locale=LANGUAGES[lang][1])
    page = someone.open("/alerts")
    shown = page.get_by_test_id("alert")
    assert shown.count() == min(len(answer), ALERTS_SHOWN)
    flags = {e["flag"] for e in answer if e["kind"] == "SAFETY_FLAG"}
    assert "ABO_INCOMPATIBLE" in flags
    glossary = words(lang)
    for flag in flags:
        row = page.locator(f"[data-testid=alert][data-flag={flag}]").first
        expect(row.locator(".explanation")).to_have_text(glossary.term("explanation", flag))
    din = region.flagged("ABO_INCOMPATIBLE")
    planted = page.locator("[data-testid=alert][data-flag=ABO_INCOMPATIBLE] a.din", has_text=din)
    expect(planted).to_have_count(1)
    someone.look(f"alerts-{lang}")


def test_a_clinician_sees_only_its_facility_s_alerts(
    person: Someone, server: Server, region: Region
) -> None:
    answer = server.api(region.tokens["clinician"], "/api/v1/alerts")
    everyone = server.api(region.tokens["investigator"], "/api/v1/alerts")
    assert len(answer) < len(everyone)
    page = person("clinician").open("/alerts")
    expect(page.get_by_test_id("alert")).to_have_count(min(len(answer), ALERTS_SHOWN))
    where = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=alert]')]"
        ".map(r => r.lastElementChild.innerText.trim())"
    )
    assert set(where) == {region.facility_of["clinician"]}


def _widest_case(server: Server, region: Region) -> dict[str, Any]:
    """The lookback case that found the most: the investigator's, on the donor whose
    donations were transfused to the most patients."""
    token = region.tokens["investigator"]
    reports = [server.api(token, f"/api/v1/lookbacks/{case}") for case in region.case_ids]
    assert reports, "the demo's ledger opened lookback cases"
    return max(
        reports,
        key=lambda r: (
            len(r["recipients_to_notify"]) + len(r["units_consumed"]) + len(r["notices"]),
            r["case_id"],
        ),
    )


@BOTH
def test_the_lookback_page_shows_what_the_case_found(
    person: Someone, server: Server, region: Region, lang: str
) -> None:
    report = _widest_case(server, region)
    someone = person("investigator", locale=LANGUAGES[lang][1])
    page = someone.open(f"/lookbacks/{report['case_id']}")
    expect(page.get_by_test_id("case-id")).to_have_text(report["case_id"])
    for section, field in [
        ("units-quarantined", "units_quarantined"),
        ("units-consumed", "units_consumed"),
        ("units-disposed", "units_disposed"),
        ("recipients", "recipients_to_notify"),
        ("notices", "notices"),
    ]:
        assert page.get_by_test_id(section).get_attribute("data-count") == str(
            len(report[field])
        ), section
    patients = attributes(page.get_by_test_id("recipient").locator("a.person"), "href")
    assert sorted(patients) == sorted(
        f"/trace?patient={r['patient_id']}" for r in report["recipients_to_notify"]
    )
    someone.look(f"lookback-{lang}")
    page = someone.open("/lookbacks")
    assert sorted(attributes(page.get_by_test_id("case"), "data-case")) == sorted(region.case_ids)
    someone.look(f"lookbacks-{lang}")


@BOTH
def test_the_reports_page_offers_each_report_for_a_facility_and_period(
    person: Someone, region: Region, lang: str
) -> None:
    someone = person("investigator", locale=LANGUAGES[lang][1])
    page = someone.open("/reports")
    for kind in ("qc", "hemovigilance", "inventory"):
        expect(page.get_by_test_id(f"report-{kind}")).to_be_visible()
    someone.look(f"reports-{lang}")
    card = page.get_by_test_id("report-qc")
    card.locator("input[name=facility]").fill(region.hospital)
    card.locator("input[name=from]").fill(region.stream.facts[0].occurred_at.date().isoformat())
    card.locator("input[name=to]").fill(region.last.date().isoformat())
    card.locator("select[name=format]").select_option("html")
    with page.expect_navigation():
        page.get_by_test_id("make-qc").click()
    assert urlsplit(page.url).path == "/reports/qc"
    expect(page.locator("body")).to_contain_text(region.hospital)
    someone.look(f"report-qc-{lang}")


# -- what the visits left behind ----------------------------------------------------------


def test_the_server_log_names_no_donor_and_no_patient(server: Server, region: Region) -> None:
    """Run last in this module: every page above has been visited by then."""
    logged = server.log.read_text("utf-8")
    named = sorted(p for p in region.people() if p in logged)
    assert not named, f"{len(named)} identifiers in {server.log}"
