"""Drive Debian's headless Chromium over the DevTools protocol (websocket-client): load a page,
collect console errors, uncaught exceptions and failed loads, evaluate JavaScript, take a
screenshot. Shared by the report's browser test and benchmarks/report_benchmark.py."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def available() -> bool:
    return Path(CHROMIUM).exists()


class Chromium:
    """One headless Chromium with one tab. Use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 900, timeout_s: float = 60.0) -> None:
        import requests
        import websocket

        self.timeout_s = timeout_s
        # Chromium's helper processes may still write to the profile while it is removed.
        self._profile = tempfile.TemporaryDirectory(prefix="ide-chromium-", ignore_cleanup_errors=True)
        log = Path(self._profile.name) / "stderr.log"
        with open(log, "w") as stderr:  # a file, not a pipe: a pipe nobody reads would fill and stall Chromium
            self._process = subprocess.Popen(
                [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--remote-debugging-port=0",
                 f"--user-data-dir={self._profile.name}/profile", f"--window-size={width},{height}", "about:blank"],
                stdout=subprocess.DEVNULL, stderr=stderr,
            )
        port = None
        deadline = time.monotonic() + timeout_s
        while port is None and time.monotonic() < deadline:  # "DevTools listening on ws://127.0.0.1:PORT/..."
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", log.read_text(errors="replace"))
            port = found and int(found.group(1))
            if port is None and self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self._process.returncode}")
            time.sleep(0.05)
        if port is None:
            self.close()
            raise RuntimeError("chromium did not open its DevTools port")
        tab = next(t for t in requests.get(f"http://127.0.0.1:{port}/json", timeout=10).json() if t["type"] == "page")
        self._socket = websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=timeout_s, suppress_origin=True)
        self._next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params) -> dict:
        """Call a DevTools method and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def load(self, url: str) -> float:
        """Navigate to ``url`` and wait for its load event; returns the seconds it took."""
        started = time.perf_counter()
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout_s
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: no load event in {self.timeout_s} s")
            self.events.append(json.loads(self._socket.recv()))
        elapsed = time.perf_counter() - started
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        return elapsed

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads (an image not found) seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + params["exceptionDetails"].get("exception", {}).get("description", params["exceptionDetails"]["text"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                found.append(f"load failed: {params['errorText']}")
        return found

    def screenshot(self) -> bytes:
        """PNG of the visible part of the page."""
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        if getattr(self, "_socket", None) is not None:
            self._socket.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

