"""A headless Chromium driven over the W3C WebDriver protocol, for tests that read a page as a
reader's browser shows it (``from browser import Browser, browser_missing``).

Debian's ``chromium`` and ``chromium-driver`` packages (``apt-get install chromium
chromium-driver``); the client is the standard library's ``urllib``, so no Selenium and nothing
that downloads a driver. The browser runs with a fresh profile, no sandbox, no GPU, no
background networking, component updates or first-run pages: it fetches nothing.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = ("chromedriver", "chromium-driver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
"""The W3C key of an element reference."""
ENTER = "\ue007"


def _which(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/lib/chromium/{name}" if Path(f"/usr/lib/chromium/{name}").exists() else None
        )
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Why no headless Chromium can run here (``None`` when it can)."""
    if _which(CHROMIUM) is None:
        return "chromium is not installed (Debian: apt-get install chromium chromium-driver)"
    if _which(DRIVER) is None:
        return "chromedriver is not installed (Debian: apt-get install chromium-driver)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Browser:
    """One headless Chromium session (a context manager)."""

    def __init__(self, width: int = 1600, height: int = 1000, timeout_s: float = 30.0) -> None:
        self.size = (width, height)
        self.timeout_s = timeout_s
        self.profile = Path(tempfile.mkdtemp(prefix="emoflow-chromium-"))
        self.port = _free_port()
        self.driver: subprocess.Popen[bytes] | None = None
        self.session = ""

    def __enter__(self) -> Browser:
        driver = _which(DRIVER)
        binary = _which(CHROMIUM)
        assert driver and binary, browser_missing()
        self.driver = subprocess.Popen(
            [driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={self.profile}",
            f"--window-size={self.size[0]},{self.size[1]}",
        ]
        capabilities = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": binary, "args": args},
                }
            }
        }
        self.session = self._call("POST", "/session", capabilities)["sessionId"]
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.session:
                self._call("DELETE", f"/session/{self.session}")
        finally:
            if self.driver is not None:
                self.driver.terminate()
                try:
                    self.driver.wait(10)
                except subprocess.TimeoutExpired:
                    self.driver.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- the protocol ----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"{}").get("value")
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"WebDriver {method} {path}: {err.read().decode()[:500]}") from err

    def _session(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``arguments`` holds ``args``) in the current frame."""
        return self._session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, *args: Any, what: str = "") -> Any:
        """Run ``script`` until it returns something truthy; that value."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never showed {what or script}")
            time.sleep(0.1)

    def element(self, css: str) -> dict[str, str]:
        return self._session("POST", "/element", {"using": "css selector", "value": css})

    def click(self, element: dict[str, str]) -> None:
        self._session("POST", f"/element/{element[ELEMENT]}/click", {})

    def type(self, element: dict[str, str], text: str) -> None:
        self._session("POST", f"/element/{element[ELEMENT]}/value", {"text": text})

    def frame(self, element: dict[str, str] | None) -> None:
        """Switch into the iframe ``element`` (``None``: back to the top page)."""
        self._session("POST", "/frame", {"id": element})

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self._session("GET", "/screenshot")))
