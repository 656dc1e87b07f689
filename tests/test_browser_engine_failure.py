"""The AnyStory engine asked for where its weights cannot be had (offline, empty cache): the
app still starts, says why on the Settings tab, and a render attempt gets that reason as a
short message instead of jobs that wait forever."""
from __future__ import annotations

import os

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from story import queue
from story.studio import Studio
from tests.browser_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, shot, start_app, stop_app

pytestmark = [  # in CI (CI=true) a missing chromium fails: .ci/run installs it
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def test_missing_weights_are_explained_and_nothing_is_queued(tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    proc = start_app(tmp_path / "data", port, ARTIFACTS / "server-engine-failure.log", ANYSTORY_ENGINE="anystory",
                     HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.click("#open-sample")
            page.locator("#panel-title", has_text="Panel 1 of 5").wait_for()
            log = ARTIFACTS / "server-engine-failure.log"
            deadline = time.monotonic() + 120
            while "could not start" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.5)
            page.get_by_role("tab", name="Settings").click()
            page.get_by_role("button", name="Refresh status").click()
            expect(page.locator("#status-text")).to_contain_text("not in the local Hugging Face cache")
            shot(page, "engine-failure-settings")
            page.get_by_role("tab", name="Story").click()
            page.click("#render-missing")
            toast = page.locator(".toast-body", has_text=re.compile("could not start"))
            toast.first.wait_for(state="visible")
            assert "HF_TOKEN" in toast.first.inner_text() or "cache" in toast.first.inner_text()
            shot(page, "engine-failure-render")
            browser.close()
    finally:
        stop_app(proc)
    studio = Studio.open(tmp_path / "data")
    try:
        assert queue.jobs(studio, pending_only=True) == []
    finally:
        studio.close()
