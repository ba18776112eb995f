"""One demo region, one server and one Chromium for the whole browser session; a fresh
browser context (cookies, language) for each person a test plays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, ViewportSize, sync_playwright

from tests.e2e.browser.harness import CHROMIUM, Person, Region, Server, artefacts_dir, build_region

#: A person's screen: wide enough for the dashboard's table.
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> Region:
    return build_region(tmp_path_factory.mktemp("region"))


@pytest.fixture(scope="session")
def server(region: Region) -> Iterator[Server]:
    running = Server(region, artefacts_dir() / "server.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def signed_in(browser: Browser, server: Server, region: Region) -> dict[str, Any]:
    """Each role's cookies after signing in once through the form (kept for the session)."""
    states: dict[str, Any] = {}
    for name, token in region.tokens.items():
        context = browser.new_context(base_url=server.url, viewport=VIEWPORT)
        try:
            Person(context, server.url).sign_in(token)
            states[name] = context.storage_state()
        finally:
            context.close()
    return states


@pytest.fixture
def person(
    browser: Browser, server: Server, signed_in: dict[str, Any]
) -> Iterator[Callable[..., Person]]:
    """``person(role=None, locale="zh-CN")``: a new person, signed in as ``role`` (a
    token name of :data:`~tests.e2e.browser.harness.ROLES`) or not at all, whose browser
    asks for ``locale``'s language first."""
    contexts = []

    def make(role: str | None = None, locale: str = "zh-CN") -> Person:
        context = browser.new_context(
            base_url=server.url,
            locale=locale,
            viewport=VIEWPORT,
            storage_state=signed_in[role] if role else None,
        )
        contexts.append(context)
        return Person(context, server.url)

    yield make
    for context in contexts:
        context.close()
