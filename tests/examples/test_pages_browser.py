"""Each main page of the demo, rendered by headless Chromium: a screenshot test.

A page passes when it has its title, its key element is visible, the
browser console shows no error (a missing favicon is one) and, at a phone's
width, nothing is wider than the window, long unbroken words included.
The screenshots, wide and narrow, go to the test's temporary directory,
where a failing run leaves them to look at.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from examples.demo import make_demo
from tests.support.browser import needs_chromium, start_browser
from tests.support.servers import running_server

pytestmark = [pytest.mark.network, needs_chromium]

#: Seconds any one thing in the page may take.
WAIT = 10.0
POLL = 0.05
WIDE = 1024
#: A small phone, in CSS pixels.
NARROW = 360
HEIGHT = 720

#: A word no line can hold at a phone's width.
LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitän" * 4


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = start_browser(WIDE, HEIGHT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def base_url(browser: WebDriver) -> Iterator[str]:
    with running_server("asyncio", make_demo()) as handle:
        yield f"http://127.0.0.1:{handle.port}"
        # Closes the chat page's WebSocket, so the server stops without waiting on it.
        browser.get("about:blank")


@pytest.fixture
def page(browser: WebDriver, base_url: str) -> Iterator[WebDriver]:
    # Cookies are per host, not per port: start every page signed out.
    browser.get(base_url + "/favicon.ico")
    browser.delete_all_cookies()
    browser.get_log("browser")  # drop what earlier pages logged
    yield browser


def set_width(browser: WebDriver, width: int) -> None:
    # The viewport itself, exactly: a window's size includes whatever chrome it draws.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )


def console_errors(browser: WebDriver) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def overflow(browser: WebDriver) -> list[str]:
    """What sticks out of the viewport sideways: the page, or elements by tag, id and class."""
    return browser.execute_script(
        """
        const width = document.documentElement.clientWidth;
        const wide = [];
        if (document.documentElement.scrollWidth > width) wide.push('the page: ' + document.documentElement.scrollWidth);
        for (const element of document.body.querySelectorAll('*')) {
            const box = element.getBoundingClientRect();
            if (box.width && (box.right > width + 0.5 || box.left < -0.5)) {
                wide.push(element.tagName + '#' + element.id + '.' + element.className + ': ' + box.left + '..' + box.right);
            }
        }
        return wide;
        """
    )


def check_rendered(browser: WebDriver, title: str, key: str, shots: Path, name: str) -> None:
    """Assert the page rendered well, wide and narrow, and save both screenshots.

    :param title: the expected ``<title>``.
    :param key: a CSS selector for the element the page is about; it must be visible.
    """
    assert browser.title == title
    element = browser.find_element(By.CSS_SELECTOR, key)
    assert element.is_displayed(), f"{key} is not visible on {browser.current_url}"
    # The stylesheet applied: the house font, not the browser's default serif.
    assert "system-ui" in browser.execute_script("return getComputedStyle(document.body).fontFamily")
    try:
        for width in (WIDE, NARROW):
            set_width(browser, width)
            assert browser.save_screenshot(str(shots / f"{name}-{width}.png"))
            assert overflow(browser) == [], f"wider than {width}px on {browser.current_url}"
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert console_errors(browser) == []


def wait_for(browser: WebDriver, script: str, message: str) -> None:
    WebDriverWait(browser, WAIT, poll_frequency=POLL).until(lambda b: b.execute_script(script), message)


def test_index(page: WebDriver, base_url: str, tmp_path: Path) -> None:
    page.get(base_url + "/")
    check_rendered(page, "crosswind demo", "ul.apps", tmp_path, "index")
    assert page.find_element(By.CSS_SELECTOR, "header .brand").is_displayed()


def test_blog_with_a_post_of_long_words(page: WebDriver, base_url: str, tmp_path: Path) -> None:
    page.get(base_url + "/blog/")
    check_rendered(page, "crosswind blog", "main h1", tmp_path, "blog")

    page.get(base_url + "/blog/auth/login?next=/blog/compose")
    page.find_element(By.NAME, "username").send_keys("alice")
    page.find_element(By.NAME, "password").send_keys("wonderland")
    page.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(page, WAIT, poll_frequency=POLL).until(lambda b: b.current_url.endswith("/blog/compose"))
    title = f"On {LONG_WORD} {uuid.uuid4().hex[:8]}"
    page.find_element(By.NAME, "title").send_keys(title)
    page.find_element(By.NAME, "body").send_keys(f"{LONG_WORD} https://example.com/{LONG_WORD}")
    page.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(page, WAIT, poll_frequency=POLL).until(lambda b: "/blog/post/" in b.current_url)

    check_rendered(page, f"{title} - crosswind blog", "main article h2", tmp_path, "blog-post")
    assert title in page.find_element(By.TAG_NAME, "main").text


def test_flask_style_app_with_a_note_of_long_words(page: WebDriver, base_url: str, tmp_path: Path) -> None:
    page.get(base_url + "/flask/")
    check_rendered(page, "Notes - crosswind Flask-style example", "main h1", tmp_path, "flask")

    page.get(base_url + "/flask/auth/login")
    page.find_element(By.NAME, "username").send_keys("demo")
    page.find_element(By.NAME, "password").send_keys("demo-password")
    page.find_element(By.CSS_SELECTOR, "main button").click()
    WebDriverWait(page, WAIT, poll_frequency=POLL).until(lambda b: b.current_url.endswith("/flask/"))
    # The notes API is for scripts: add a note as a page's script would.
    text = f"remember {LONG_WORD}"
    status = page.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/flask/api/notes', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        f" body: JSON.stringify({json.dumps({'text': text})})}}).then((r) => done(r.status), () => done(0));"
    )
    assert status == 201
    page.get(base_url + "/flask/")

    check_rendered(page, "Notes - crosswind Flask-style example", "main ul li", tmp_path, "flask-notes")
    assert text in page.find_element(By.TAG_NAME, "main").text


@pytest.mark.parametrize(
    ("path", "title"),
    [("/chat/", "Chat - crosswind demo"), ("/flask/chat/", "Chat - crosswind Flask-style example")],
    ids=["tornado-style", "flask-style"],
)
def test_chat_with_a_message_of_long_words(
    page: WebDriver, base_url: str, tmp_path: Path, path: str, title: str
) -> None:
    page.get(base_url + path)
    wait_for(page, "return document.getElementById('state').dataset.state === 'connected'", "never connected")
    check_rendered(page, title, "#compose", tmp_path, "chat")

    text = f"{LONG_WORD} {uuid.uuid4().hex[:8]}"
    page.find_element(By.ID, "name").send_keys(LONG_WORD)
    page.find_element(By.ID, "text").send_keys(text)
    page.find_element(By.ID, "send").click()
    wait_for(
        page,
        f"return Array.from(document.querySelectorAll('#messages .text'), (e) => e.textContent).includes({json.dumps(text)})",
        "the message never came back",
    )
    check_rendered(page, title, "#messages li.message", tmp_path, "chat-message")
