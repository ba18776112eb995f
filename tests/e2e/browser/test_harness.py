"""The browser harness can fail: axe-core (vendored) finds what a person with a screen
reader would meet, and a visit notices a page reaching outside the server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.e2e.browser.harness import (
    Person,
    Server,
    accessibility_violations,
    assert_accessible,
    blocking,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

UNLABELLED = """<!doctype html><html lang="en"><head><title>t</title></head><body><main>
<h1>Stock</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button></button>
</main></body></html>"""

LABELLED = """<!doctype html><html lang="en"><head><title>t</title></head><body><main>
<h1>Stock</h1><img alt="a dot" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<button>Sign in</button></main></body></html>"""


def test_axe_fails_an_image_without_text_and_a_button_without_a_name(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.set_content(UNLABELLED)
        failing = blocking(accessibility_violations(page))
        assert any(f.startswith("image-alt (critical)") for f in failing), failing
        assert any(f.startswith("button-name (critical)") for f in failing), failing
        with pytest.raises(AssertionError, match="image-alt"):
            assert_accessible(page, "harness-unlabelled")
        page.set_content(LABELLED)
        assert_accessible(page, "harness-labelled")
    finally:
        page.close()


def test_axe_runs_under_the_pages_content_security_policy(browser: Browser) -> None:
    context = browser.new_context()
    policy = "default-src 'self'; script-src 'self'; style-src 'self'"
    context.route(
        "http://csp.test/",
        lambda route: route.fulfill(
            body=UNLABELLED, content_type="text/html", headers={"Content-Security-Policy": policy}
        ),
    )
    try:
        page = context.new_page()
        page.goto("http://csp.test/")
        failing = blocking(accessibility_violations(page))
        assert any(f.startswith("image-alt (critical)") for f in failing), failing
    finally:
        context.close()


def test_a_visit_notices_a_request_outside_the_server(browser: Browser, server: Server) -> None:
    context = browser.new_context(base_url=server.url)
    try:
        person = Person(context, server.url)
        person.open("/healthz")
        person.visit.assert_clean()
        person.page.set_content('<img alt="x" src="https://cdn.example.org/font.woff2">')
        with pytest.raises(AssertionError, match=r"outside the server: https://cdn\.example"):
            person.visit.assert_clean()
    finally:
        context.close()
