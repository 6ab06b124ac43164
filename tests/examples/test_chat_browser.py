"""The demo's two chats in a real browser: headless Chromium driven by Selenium.

The demo is served by a real backend on a free port; two browser sessions
open the same chat page, one writes and the other must see it, and markup
typed into a message must come out as text.  ``make test`` installs
Debian's ``chromium`` and ``chromium-driver``; without them these tests skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from examples.demo import make_demo
from tests.support.browser import needs_chromium, start_browser
from tests.support.servers import running_server

#: Seconds any one thing in the page may take: the first connect, a message crossing.
WAIT = 10.0
#: Seconds between looks at the page while waiting (Selenium's default is half a second).
POLL = 0.05

pytestmark = [pytest.mark.network, needs_chromium]

CHATS = ["/chat/", "/flask/chat/"]


@pytest.fixture(scope="module")
def browsers() -> Iterator[tuple[WebDriver, WebDriver]]:
    # Started side by side: each takes a second or more.
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_browser) for _ in range(2)]
    try:
        alice, bob = (future.result() for future in futures)
        yield alice, bob
    finally:
        for future in futures:
            if future.exception() is None:
                future.result().quit()


@pytest.fixture(scope="module")
def base_url(browsers: tuple[WebDriver, WebDriver]) -> Iterator[str]:
    # asyncio, as `make demo` serves it; test_chat.py covers trio and threads on the wire.
    with running_server("asyncio", make_demo()) as handle:
        yield f"http://127.0.0.1:{handle.port}"
        leave(browsers)


def leave(browsers: tuple[WebDriver, WebDriver]) -> None:
    """Close the pages, and so their sockets, so that the server stops without waiting on them."""
    for browser in browsers:
        browser.get("about:blank")


def state(browser: WebDriver) -> str:
    return browser.find_element(By.ID, "state").get_attribute("data-state") or ""


def wait_for_state(browser: WebDriver, expected: str) -> None:
    WebDriverWait(browser, WAIT, poll_frequency=POLL).until(
        lambda b: state(b) == expected, f"the page never showed {expected!r} (it shows {state(browser)!r})"
    )


def messages(browser: WebDriver) -> list[tuple[str, str]]:
    """The (name, text) of each message shown, as text (one round trip to the browser)."""
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#messages li.message'),"
        " (li) => [li.querySelector('.name').textContent, li.querySelector('.text').textContent]);"
    )
    return [(name, text) for name, text in rows]


def wait_for_message(browser: WebDriver, name: str, text: str) -> None:
    WebDriverWait(browser, WAIT, poll_frequency=POLL).until(
        lambda b: (name, text) in messages(b),
        f"{text!r} from {name!r} never arrived; the page shows {messages(browser)!r}",
    )


def say(browser: WebDriver, name: str, text: str) -> None:
    name_input = browser.find_element(By.ID, "name")
    name_input.clear()
    name_input.send_keys(name)
    browser.find_element(By.ID, "text").send_keys(text)
    browser.find_element(By.ID, "send").click()


def open_chat(browser: WebDriver, url: str) -> None:
    browser.get(url)
    wait_for_state(browser, "connected")


@pytest.mark.parametrize("path", CHATS)
def test_a_message_from_one_browser_reaches_the_other_as_text(browsers, base_url, path):
    alice, bob = browsers
    # Alice comes through the demo's index page, as a visitor would.
    alice.get(base_url + "/")
    alice.find_element(By.CSS_SELECTOR, f'a[href="{path}"]').click()
    wait_for_state(alice, "connected")
    open_chat(bob, base_url + path)
    hello = f"hello {uuid.uuid4().hex[:8]}"

    say(alice, "alice", hello)

    wait_for_message(bob, "alice", hello)
    wait_for_message(alice, "alice", hello)
    assert alice.find_element(By.ID, "text").get_attribute("value") == ""

    marker = uuid.uuid4().hex[:8]
    markup = f'<b id="b{marker}">bold</b><img src=x onerror="document.title=\'{marker}\'">'
    name = "<i>mallory</i>"
    say(bob, name, markup)

    wait_for_message(alice, name, markup)
    wait_for_message(bob, name, markup)
    for browser in browsers:
        assert browser.find_elements(By.CSS_SELECTOR, "#messages b, #messages img, #messages i") == []
        assert browser.title != marker


@pytest.mark.parametrize("path", CHATS)
def test_a_new_page_gets_the_recent_messages_once(browsers, base_url, path):
    alice, bob = browsers
    open_chat(alice, base_url + path)
    earlier = f"before you came {uuid.uuid4().hex[:8]}"
    say(alice, "alice", earlier)
    wait_for_message(alice, "alice", earlier)

    open_chat(bob, base_url + path)

    wait_for_message(bob, "alice", earlier)
    assert messages(bob).count(("alice", earlier)) == 1


def test_the_page_reconnects_after_the_server_comes_back(browsers):
    alice, bob = browsers
    with running_server("asyncio", make_demo()) as handle:
        port = handle.port
        open_chat(alice, f"http://127.0.0.1:{port}/chat/")
        open_chat(bob, f"http://127.0.0.1:{port}/chat/")
        first = f"first life {uuid.uuid4().hex[:8]}"
        say(alice, "alice", first)
        wait_for_message(bob, "alice", first)
    # The server shut down and closed both sockets with 1001.
    wait_for_state(alice, "reconnecting")
    assert alice.find_element(By.ID, "send").get_attribute("disabled") is not None

    with running_server("asyncio", make_demo(), port=port):
        wait_for_state(alice, "connected")
        wait_for_state(bob, "connected")
        second = f"second life {uuid.uuid4().hex[:8]}"
        say(bob, "bob", second)
        wait_for_message(alice, "bob", second)
        # The messages of before are still on the page, shown once.
        assert messages(alice).count(("alice", first)) == 1
        leave(browsers)

