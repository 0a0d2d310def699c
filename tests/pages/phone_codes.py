"""Browser helper: get a phone code through the page, as a viewer does with the demo SMS."""

from __future__ import annotations

import re
from typing import Any

import pytest


async def texted_code(page: Any, field: str) -> str:
    """Tap 'Get code' of a phone-code field; the demo SMS provider shows the code on the page."""
    expect = pytest.importorskip("playwright.async_api").expect
    await page.click(f"{field} .llpc-send")
    demo = page.locator(f"{field} .llpc-demo")
    await expect(demo).to_contain_text("演示模式")
    await expect(page.locator(f"{field} .llpc-send")).to_be_disabled()  # the 60 s countdown
    found = re.search(r"\d{6}", await demo.inner_text())
    assert found is not None
    return found.group(0)
