"""A local HTTP server that answers like the publisher APIs, from recorded responses, with optional
latency and injected faults. It stands in for Elsevier, Springer Nature, Europe PMC and Crossref in
tests, the benchmark and the README demo (no publisher is reachable from CI)::

    python -m imagedataextractor.harvest.replay corpus/demo --port 8765 --latency-ms 200

prints the ``IDE_*_URL`` variables that point the harvest clients at it. Each service lives under
its own path prefix (:data:`SERVICE_PREFIXES`), so ``IDE_ELSEVIER_API_URL=http://127.0.0.1:8765/elsevier``
makes ``{base}/content/article/doi/{doi}`` arrive here as ``/elsevier/content/article/doi/{doi}``.

A recording directory holds ``routes.json``::

    {"routes": [{"path": "/elsevier/content/article/doi/10.1016/j.x.2020.1", "query": {"view": "FULL"},
                 "require": {"header": "X-ELS-APIKey"}, "file": "elsevier/....xml",
                 "content_type": "text/xml;charset=UTF-8"},
                {"prefix": "/europepmc/search", "file": "europepmc/no-hits.json", ...}]}

Paths and query values are compared decoded and lower-cased; a route with ``prefix`` answers any
path below it (exact paths win). ``require`` names a header or query parameter that must be
present (its value is not checked, and never logged): without it the answer is 401, as the real
services answer a missing key.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

#: Environment variable -> path prefix of that service on the replay server.
SERVICE_PREFIXES = {
    "IDE_ELSEVIER_API_URL": "/elsevier",
    "IDE_SPRINGER_API_URL": "/springer",
    "IDE_SPRINGER_FIGURE_URL": "/springer-static",
    "IDE_EUROPEPMC_API_URL": "/europepmc",
    "IDE_EUROPEPMC_FIGURE_URL": "/europepmc-site",
    "IDE_CROSSREF_API_URL": "/crossref",
}

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>Institutional login</form></body></html>"

FaultKind = Literal["status", "delay", "drop", "truncate", "html", "trickle"]


@dataclass
class Fault:
    """A misbehaviour for the requests to one path (or a path prefix ending in ``*``).

    kind: "status" answers ``status`` with ``headers`` (e.g. 429 + Retry-After, 500); "delay"
    waits ``delay_s`` before answering (a timeout for a client with a shorter read timeout);
    "drop" sends the headers and half the body, then closes the connection; "truncate" sends
    half the body as if it were all of it; "html" answers 200 with a login page in place of the
    content; "trickle" sends the body one byte every ``delay_s`` (a server too slow to finish but
    never silent long enough for a read timeout). times: apply to the first ``times`` matching requests only (None: always).
    """

    kind: FaultKind
    times: int | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    used: int = 0


@dataclass(frozen=True)
class Route:
    body: bytes
    content_type: str
    query: tuple[tuple[str, str], ...] = ()
    require: tuple[str, str] | None = None  # ("header" | "query", name)
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Seen:
    """A request the server received: path (decoded), query (values of required parameters shown
    as ``***``), headers, and arrival time (``time.monotonic()``)."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - socketserver's signature
        # A client that timed out or a connection dropped on purpose: expected here, not worth a traceback.
        log.debug("replay: connection from %s ended early", client_address[0])


def _key(path: str) -> str:
    return unquote(path).lower()


class ReplayServer:
    """The server. Use as a context manager, or call :meth:`start` / :meth:`stop`.

    root: a recording directory with ``routes.json`` (optional: routes can also be added in code).
    latency_s: added before every answer. port 0 picks a free port.
    """

    def __init__(self, root: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self._host = host
        self._exact: dict[str, list[Route]] = {}
        self._prefix: list[tuple[str, Route]] = []
        self._faults: list[tuple[str, Fault]] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        if root is not None:
            self.load(Path(root))
        self._httpd = _QuietServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    # -- configuration ---------------------------------------------------------------------------

    def load(self, root: Path) -> None:
        """Add the routes of a recording directory."""
        spec = json.loads((root / "routes.json").read_text(encoding="utf-8"))
        for entry in spec["routes"]:
            require = entry.get("require")
            route = Route(
                body=(root / entry["file"]).read_bytes(),
                content_type=entry["content_type"],
                query=tuple(sorted((k, v.lower()) for k, v in entry.get("query", {}).items())),
                require=next(iter(require.items())) if require else None,
                status=entry.get("status", 200),
            )
            if "prefix" in entry:
                self._prefix.append((_key(entry["prefix"]), route))
            else:
                self._exact.setdefault(_key(entry["path"]), []).append(route)

    def add_route(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        query: dict[str, str] | None = None,
        require: tuple[str, str] | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer GET ``path`` (with ``query`` parameters) with ``body`` (and ``headers``, e.g. a
        redirect's Location)."""
        query_items = tuple(sorted((k, v.lower()) for k, v in (query or {}).items()))
        route = Route(body, content_type, query_items, require, status, tuple((headers or {}).items()))
        with self._lock:
            self._exact.setdefault(_key(path), []).insert(0, route)

    def add_fault(self, path: str, fault: Fault) -> None:
        """Misbehave on ``path`` (a prefix when it ends with ``*``); see :class:`Fault`."""
        with self._lock:
            self._faults.append((_key(path), fault))

    def clear_seen(self) -> None:
        with self._lock:
            self.seen.clear()

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._httpd.server_port}"

    def env(self) -> dict[str, str]:
        """The ``IDE_*_URL`` variables that point every harvest client at this server."""
        return {name: self.url + prefix for name, prefix in SERVICE_PREFIXES.items()}

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="ide-replay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering -------------------------------------------------------------------------------

    def _fault_for(self, key: str) -> Fault | None:
        with self._lock:
            for pattern, fault in self._faults:
                matches = key.startswith(pattern[:-1]) if pattern.endswith("*") else key == pattern
                if matches and (fault.times is None or fault.used < fault.times):
                    fault.used += 1
                    return fault
        return None

    def _route_for(self, key: str, query: dict[str, str]) -> Route | None:
        lowered = {k: v.lower() for k, v in query.items()}
        for route in self._exact.get(key, []):
            if all(lowered.get(k) == v for k, v in route.query):
                return route
        return next((route for prefix, route in self._prefix if key.startswith(prefix)), None)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
                log.debug("replay: %s", urlsplit(self.path).path)  # the path only: queries may hold keys

            def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's name
                parts = urlsplit(self.path)
                key = _key(parts.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                route = server._route_for(key, query)
                hidden = {route.require[1]} if route and route.require else set()
                with server._lock:
                    server.seen.append(
                        Seen(unquote(parts.path), {k: ("***" if k in hidden else v) for k, v in query.items()}, dict(self.headers), time.monotonic())
                    )
                if server.latency_s:
                    time.sleep(server.latency_s)
                fault = server._fault_for(key)
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.delay_s)
                    fault = None
                if fault is not None and fault.kind == "status":
                    self._send(fault.status, b"injected fault", "text/plain", fault.headers)
                elif fault is not None and fault.kind == "html":
                    self._send(200, LOGIN_PAGE, "text/html; charset=utf-8")
                elif route is None:
                    self._send(404, b'{"error": "RESOURCE_NOT_FOUND"}', "application/json")
                elif route.require and not self._has(route.require, query):
                    self._send(401, b'{"error": "AUTHENTICATION_ERROR: API key missing"}', "application/json")
                elif fault is not None and fault.kind == "truncate":
                    self._send(route.status, route.body[: len(route.body) // 2], route.content_type)
                elif fault is not None and fault.kind == "drop":
                    self._drop(route)
                elif fault is not None and fault.kind == "trickle":
                    self._trickle(route, fault.delay_s)
                else:
                    self._send(route.status, route.body, route.content_type, dict(route.headers))

            def _has(self, require: tuple[str, str], query: dict[str, str]) -> bool:
                where, name = require
                return bool(self.headers.get(name) if where == "header" else query.get(name))

            def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _trickle(self, route: Route, delay_s: float) -> None:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.close_connection = True
                for i in range(len(route.body)):
                    time.sleep(delay_s)
                    self.wfile.write(route.body[i : i + 1])
                    self.wfile.flush()

            def _drop(self, route: Route) -> None:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body[: len(route.body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        return Handler


def _serve(server: ReplayServer) -> None:
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    """Serve a recording. The variables are printed only once the port listens; with ``--detach``
    the command returns then, leaving the server in a background process (``IDE_REPLAY_PID``), so
    that ``... --detach > replay.env && source replay.env`` cannot race it. A port in use or a
    missing recording is one line on stderr and exit status 1."""
    parser = argparse.ArgumentParser(prog="python -m imagedataextractor.harvest.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="recording directory holding routes.json (e.g. corpus/demo)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every answer")
    parser.add_argument("--detach", action="store_true", help="serve from a background process; return once listening")
    args = parser.parse_args(argv)
    if not (args.root / "routes.json").is_file():
        sys.exit(f"replay: {args.root / 'routes.json'}: no such recording")
    try:
        server = ReplayServer(args.root, host=args.host, port=args.port, latency_s=args.latency_ms / 1000)
    except OSError as exc:
        sys.exit(f"replay: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})")
    # the socket listens from here on: a request made after the variables are printed waits in its queue
    pid = os.fork() if args.detach else os.getpid()
    if args.detach and pid == 0:  # the background server
        os.setsid()
        with open(os.devnull, "r+b") as devnull:
            for stream in (sys.stdin, sys.stdout, sys.stderr):
                os.dup2(devnull.fileno(), stream.fileno())
        _serve(server)
        return
    for name, value in server.env().items():
        print(f"export {name}={value}")
    if args.detach:
        server._httpd.socket.close()  # the child serves it
        print(f"export IDE_REPLAY_PID={pid}")
        print(f"# replaying {args.root} at {server.url}; stop with: kill {pid}", flush=True)
        return
    print(f"# replaying {args.root} at {server.url}; Ctrl-C to stop", flush=True)
    _serve(server)


if __name__ == "__main__":
    main()
