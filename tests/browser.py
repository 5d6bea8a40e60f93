"""Real Chromium for the web apps: Debian's /usr/bin/chromium driven by Playwright (never a
downloaded browser). ATDESK_CHROMIUM points elsewhere (e.g. macOS's Chromium.app)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

DOCS = Path(__file__).resolve().parents[1] / "docs"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LAPTOP = {"viewport": {"width": 1280, "height": 800}}


def chromium_path() -> str:
    path = os.environ.get("ATDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(
            f"no Chromium at {path}: scripts/test installs Debian's chromium package; "
            "or set ATDESK_CHROMIUM to a Chromium executable"
        )
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield browser
        finally:
            await browser.close()


class PageWatch:
    """Fails a test on what a user would never want to see: a dialog, a script error."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []

    def attach(self, page: Page) -> Page:
        async def dismiss(dialog: object) -> None:
            self.dialogs.append(getattr(dialog, "message", "?"))
            await dialog.dismiss()  # type: ignore[attr-defined]

        page.on("dialog", dismiss)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page


async def new_page(
    browser: Browser, watch: PageWatch, **options: object
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    return context, watch.attach(await context.new_page())
