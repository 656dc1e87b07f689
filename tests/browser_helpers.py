"""Helpers of the browser tests: start launch.py on a free port, launch Debian's chromium,
and drive a few Gradio widgets by their elem_id."""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(data_dir: Path, port: int, log_path: Path, **env_vars: str) -> subprocess.Popen:
    """launch.py on 127.0.0.1:port, with the draft engine unless `env_vars` say otherwise;
    returns once the page answers."""
    env = {**os.environ, "ANYSTORY_ENGINE": "draft", "ANYSTORY_SEGMENTER": "fallback", **env_vars}
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--port", str(port), "--data-dir",
                             str(data_dir)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"launch.py exited ({proc.returncode}):\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"launch.py did not answer within 90 s:\n{log_path.read_text()}")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextlib.contextmanager
def served_app(data_dir: Path) -> Iterator[str]:
    """The app on a free port over `data_dir` (log in test-artifacts/server.log); yields its URL."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    proc = start_app(data_dir, port, ARTIFACTS / "server.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_app(proc)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str):
    """A new page on the app, once its Projects tab is there."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#open-sample")
    return page


def wait_toast(page, pattern: str) -> None:
    page.locator(".toast-body", has_text=re.compile(pattern)).first.wait_for(state="visible")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def fill(page, elem_id: str, text: str) -> None:
    """Type into a Textbox (input or textarea) found by elem_id."""
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(text)


def choose(page, elem_id: str, option: str) -> None:
    """Pick an option of a Dropdown found by elem_id."""
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=option, exact=True).click()


def click_image_at(page, elem_id: str, fx: float, fy: float) -> None:
    """Click a gr.Image at a fraction of its displayed picture (select events get pixels)."""
    image = page.locator(f"#{elem_id} img").first
    image.wait_for(state="visible")
    box = image.bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def click_image_and_wait(page, elem_id: str, fx: float, fy: float) -> None:
    """click_image_at, then wait until the app has redrawn that picture: Gradio sends each
    click with the state of that moment, so a second click must wait for the first's answer."""
    image = page.locator(f"#{elem_id} img").first
    image.wait_for(state="visible")
    before = image.get_attribute("src")
    click_image_at(page, elem_id, fx, fy)
    page.wait_for_function(
        "([id, before]) => { const img = document.querySelector(`#${id} img`); return img && img.src !== before; }",
        arg=[elem_id, before],
    )


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
