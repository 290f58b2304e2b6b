"""HTTP for harvesting, done once: one session per service host, timeouts, retries with exponential
backoff on connection errors, timeouts, 429 and 5xx (honouring Retry-After), a per-host rate limit,
a per-host pool of download threads, streamed downloads with a size cap, content types checked
before anything is kept, and atomic writes (temp file + rename) so that an interrupted run never
leaves a half file that looks complete. Credentials are redacted from every message and URL.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ..version import __version__
from ..errors import HarvestError
from ..redact import SECRET_PARAMS, redact, register_secret
from .config import HarvestConfig

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


class FetchError(HarvestError):
    """A request that failed for good. status: the HTTP status, if one came back. permanent: a later
    run will not do better either (4xx other than 429, a file over the size cap, content that is
    not a valid article or image); transient failures (5xx, timeouts, a login page in place of an
    image) are worth retrying in a later run. unavailable: the server itself was in trouble (5xx, 429
    or timeouts through every attempt), as opposed to answering with something unusable."""

    def __init__(self, message: str, *, status: int | None = None, permanent: bool = False, unavailable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.permanent = permanent
        self.unavailable = unavailable


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, reason: str, wait_s: float | None = None) -> None:
        super().__init__(reason)
        self.wait_s = wait_s


def user_agent(contact_email: str | None) -> str:
    contact = f"; mailto:{contact_email}" if contact_email else ""
    return f"imagedataextractor/{__version__} (+https://github.com/by256/imagedataextractor{contact})"


class Limiter(Protocol):
    """A service's request limit: :meth:`wait` before each request; :meth:`back_off` when the server
    asks every client to wait (429 or 503 with Retry-After). :class:`RateLimiter` holds for the
    threads of one process; a cluster shares one (:class:`imagedataextractor.cluster.engine.SharedRateLimiter`)."""

    def wait(self) -> None: ...

    def back_off(self, seconds: float) -> None: ...


class RateLimiter:
    """At most ``per_s`` starts per second, shared by all threads: each caller reserves the next slot,
    and starts when it has come unless a Retry-After received meanwhile says to wait longer."""

    def __init__(self, per_s: float) -> None:
        self._interval = 1.0 / per_s if per_s > 0 else 0.0
        self._next = 0.0
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                slot = max(now, self._next)
                self._next = slot + self._interval
            if slot > now:
                time.sleep(slot - now)
            with self._lock:
                if self._paused_until <= time.monotonic():
                    return

    def back_off(self, seconds: float) -> None:
        """No thread starts a request for the next ``seconds``."""
        with self._lock:
            until = time.monotonic() + seconds
            self._paused_until = max(self._paused_until, until)
            self._next = max(self._next, until)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


@dataclass(frozen=True)
class Fetched:
    """A response read in full. url: as requested, credentials removed. body: empty when the
    response was streamed into a file (n_bytes and sha256 describe what was read either way)."""

    url: str
    status: int
    content_type: str
    body: bytes
    n_bytes: int
    sha256: str


@dataclass(frozen=True)
class SavedFile:
    """A file written atomically. url: where it came from, credentials removed."""

    path: Path
    url: str
    content_type: str
    n_bytes: int
    sha256: str


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, lower-cased and with the scheme's default port filled in:
    two URLs with the same origin reach the same server."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: matches no configured service
        port = -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else {"http": 80, "https": 443}.get(scheme)


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value: "text/xml; charset=UTF-8" gives "text/xml"."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ServiceClient:
    """Requests to one service host: its session, rate limiter, concurrency limit and thread pool.

    name: the service ("elsevier", "europepmc-figures", ...), which picks its rate limit.
    credentials: headers sent only to URLs with the origin (scheme://host:port) of
    ``credentials_origin``, the configured service URL: never to another host or port, whether a
    redirect or the article itself names it; there, credential query parameters are dropped too.
    ``secrets``: credential values to redact from every message.
    """

    def __init__(
        self,
        name: str,
        *,
        config: HarvestConfig,
        user_agent: str,
        credentials: Mapping[str, str] | None = None,
        credentials_origin: str | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.config = config
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=config.workers_per_host, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.limiter: Limiter = RateLimiter(config.rate_for(name))
        self.pool = ThreadPoolExecutor(max_workers=config.workers_per_host, thread_name_prefix=f"ide-{name}")
        self._slots = threading.BoundedSemaphore(config.workers_per_host)
        self._credentials = dict(credentials or {})
        self._origin = origin(credentials_origin) if credentials_origin else None
        for secret in secrets:
            register_secret(secret)
        self._count_lock = threading.Lock()
        self.n_requests = 0

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()

    def public_url(self, url: str, params: Mapping[str, str] | None = None) -> str:
        """``url`` with ``params`` added, and credential parameters and values removed."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not params and not any(k.lower() in SECRET_PARAMS for k, _ in query):
            return redact(url)  # as requested, byte for byte
        query = [(k, v) for k, v in query + list((params or {}).items()) if k.lower() not in SECRET_PARAMS]
        return redact(urlunsplit(parts._replace(query=urlencode(query, safe=":/\""))))

    def _backoff(self, attempt: int) -> float:
        delay = min(self.config.backoff_max_s, self.config.backoff_initial_s * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    def request(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        accept_types: Iterable[str],
        max_bytes: int,
        into: BinaryIO | None = None,
    ) -> Fetched:
        """GET ``url`` with retries. The response must have one of ``accept_types`` (``image/*``
        allowed) and at most ``max_bytes``. Without ``into`` the body is returned in memory; with it
        the body is streamed into that file (rewound for every attempt) and ``Fetched.body`` is empty.

        Raises :class:`FetchError` when the request fails for good.
        """
        public = self.public_url(url, params)
        accept_types = tuple(accept_types)
        reason = ""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                return self._attempt(url, params, headers, accept_types, max_bytes, into, public)
            except _Retry as retry:
                reason = str(retry)
                if attempt == self.config.max_attempts:
                    break
                wait_s = retry.wait_s if retry.wait_s is not None else self._backoff(attempt)
                log.debug("%s: %s; retry %d of %d in %.2f s", public, reason, attempt, self.config.max_attempts - 1, wait_s)
                if retry.wait_s is not None:  # the server's own Retry-After: every request to it waits, not this one only
                    self.limiter.back_off(wait_s)
                else:
                    time.sleep(wait_s)
        raise FetchError(f"{public}: {reason} (gave up after {self.config.max_attempts} attempts)", unavailable=True)

    def _trusted(self, url: str) -> bool:
        """Whether ``url`` is the configured service's own origin, the only one credentials go to."""
        return self._origin is not None and origin(url) == self._origin

    def _get(self, url: str, params, headers, public: str) -> requests.Response:
        """One GET, following redirects by hand so that credentials never go to another origin."""
        for _ in range(MAX_REDIRECTS + 1):
            trusted = self._trusted(url)
            if not trusted and params:
                params = {k: v for k, v in params.items() if k.lower() not in SECRET_PARAMS}
            try:
                response = self.session.get(
                    url,
                    params=params,
                    headers={**(self._credentials if trusted else {}), **(headers or {})},
                    stream=True,
                    timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
                    allow_redirects=False,
                )
            except requests.Timeout:
                raise _Retry("timed out") from None
            except requests.ConnectionError as exc:
                raise _Retry(f"connection failed ({type(exc).__name__})") from None
            except requests.RequestException as exc:  # a malformed URL or the like: no retry helps
                raise FetchError(f"{public}: request refused ({type(exc).__name__})", permanent=True) from None
            if not response.is_redirect:
                return response
            url, params = urljoin(url, response.headers["Location"]), None
            response.close()
        raise FetchError(f"{public}: more than {MAX_REDIRECTS} redirects", permanent=True)

    def _attempt(self, url, params, headers, accept_types, max_bytes, into, public) -> Fetched:
        self.limiter.wait()
        with self._slots:
            with self._count_lock:
                self.n_requests += 1
            started = time.monotonic()
            with self._get(url, params, headers, public) as response:
                return self._read(response, accept_types, max_bytes, into, public, started)

    def _read(self, response: requests.Response, accept_types, max_bytes, into, public, started) -> Fetched:
        status = response.status_code
        if status in RETRY_STATUSES:
            wait_s = parse_retry_after(response.headers.get("Retry-After"))
            if wait_s is not None and wait_s > self.config.max_retry_after_s:
                raise FetchError(
                    f"{public}: HTTP {status}, server asks to wait {wait_s:.0f} s (more than {self.config.max_retry_after_s:.0f} s)",
                    status=status,
                    unavailable=True,
                )
            raise _Retry(f"HTTP {status}", wait_s)
        if status >= 400:
            hint = {401: " (check the API key)", 403: " (not entitled to this content)", 404: " (not found)"}.get(status, "")
            raise FetchError(f"{public}: HTTP {status}{hint}", status=status, permanent=True)
        content_type = media_type(response.headers.get("Content-Type"))
        if not any(content_type == t or (t.endswith("/*") and content_type.startswith(t[:-1])) for t in accept_types):
            raise FetchError(f"{public}: expected {' or '.join(accept_types)}, got {content_type or 'no content type'}", status=status)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"{public}: {declared} bytes, more than the {max_bytes} allowed", status=status, permanent=True)
        if into is not None:
            into.seek(0)
            into.truncate()
        chunks: list[bytes] = []
        digest = hashlib.sha256()
        n_bytes = 0
        try:
            while True:
                # read1 returns whatever one receive brought (it does not wait to fill a chunk), so the
                # time limit is checked after every packet: a server trickling bytes cannot outlast it.
                if time.monotonic() - started > self.config.download_timeout_s:
                    raise _Retry(f"download took longer than {self.config.download_timeout_s:g} s")
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                n_bytes += len(chunk)
                if n_bytes > max_bytes:
                    raise FetchError(f"{public}: more than the {max_bytes} bytes allowed", status=status, permanent=True)
                digest.update(chunk)
                if into is not None:
                    into.write(chunk)
                else:
                    chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # connection reset, timeout, incomplete or undecodable body
            raise _Retry(f"connection dropped during download ({type(exc).__name__})") from None
        if into is not None:
            into.flush()
        return Fetched(public, status, content_type, b"".join(chunks), n_bytes, digest.hexdigest())


def download_file(
    client: ServiceClient,
    url: str,
    dest_dir: Path,
    stem: str,
    *,
    headers: Mapping[str, str] | None = None,
    accept_types: Iterable[str],
    max_bytes: int,
    finish: Callable[[Path], str],
) -> SavedFile:
    """Stream ``url`` into a hidden temp file in ``dest_dir``; ``finish(temp_path)`` checks the
    file and returns its suffix (or raises :class:`FetchError` to reject it, which is raised again
    naming the URL); then rename it to ``dest_dir/<stem><suffix>``. Only a finished, checked file
    ever has its final name."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{stem}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as f:
            fetched = client.request(url, headers=headers, accept_types=accept_types, max_bytes=max_bytes, into=f)
        try:
            suffix = finish(tmp)
        except FetchError as exc:
            raise FetchError(f"{fetched.url}: {exc}", status=exc.status, permanent=exc.permanent) from None
        final = dest_dir / f"{stem}{suffix}"
        os.replace(tmp, final)
        return SavedFile(final, fetched.url, fetched.content_type, fetched.n_bytes, fetched.sha256)
    finally:
        tmp.unlink(missing_ok=True)
