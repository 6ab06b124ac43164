"""Headless Chromium for the browser tests, and the skip marker when it cannot be had.

``make test`` installs Debian's ``chromium`` and ``chromium-driver``; where
neither can be installed, tests marked :data:`needs_chromium` skip and say
which of the two is missing.  The driver is always given by path, so
Selenium never goes looking for one on the network.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

__all__ = ["CHROMEDRIVER", "CHROMIUM", "needs_chromium", "start_browser"]

CHROMEDRIVER = shutil.which("chromedriver")
# Debian's /usr/bin/chromium is a shell wrapper; the driver may start either.
CHROMIUM = next(
    (path for path in ("/usr/lib/chromium/chromium", shutil.which("chromium")) if path and shutil.which(path)),
    None,
)

needs_chromium = pytest.mark.skipif(
    CHROMEDRIVER is None or CHROMIUM is None,
    reason="chromium and chromium-driver (Debian packages) are not installed: "
    + ", ".join(
        name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if found is None
    ),
)


def start_browser(width: int = 800, height: int = 600, arguments: Sequence[str] = ()) -> WebDriver:
    """A headless Chromium whose console messages ``get_log("browser")`` returns.

    :param width: the window's width in CSS pixels.
    :param height: the window's height in CSS pixels.
    :param arguments: further command-line switches (``--ignore-certificate-errors``).
    """
    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        # Tests may run as root, where Chromium's sandbox will not start.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        f"--window-size={width},{height}",
        *arguments,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
