"""Harvest settings: behaviour (:class:`HarvestConfig`), and where the services are and which keys
to use (:class:`Settings`), read at call time from environment variables and a config file.

Environment variables (they win over the file):

=============================  ==============================================  =====================
variable                       meaning                                         config-file key
=============================  ==============================================  =====================
``IDE_ELSEVIER_API_KEY``       Elsevier API key (header ``X-ELS-APIKey``)      ``[elsevier] api_key``
``IDE_ELSEVIER_INSTTOKEN``     Elsevier institution token (``X-ELS-Insttoken``) ``[elsevier] insttoken``
``IDE_SPRINGER_API_KEY``       Springer Nature API key (query ``api_key``)     ``[springer] api_key``
``IDE_ELSEVIER_API_URL``       default https://api.elsevier.com                ``[elsevier] api_url``
``IDE_SPRINGER_API_URL``       default https://api.springernature.com          ``[springer] api_url``
``IDE_SPRINGER_FIGURE_URL``    default https://static-content.springer.com     ``[springer] figure_url``
``IDE_EUROPEPMC_API_URL``      default https://www.ebi.ac.uk/europepmc/webservices/rest  ``[europepmc] api_url``
``IDE_EUROPEPMC_FIGURE_URL``   default https://europepmc.org                   ``[europepmc] figure_url``
``IDE_CROSSREF_API_URL``       default https://api.crossref.org                ``[crossref] api_url``
``IDE_CONTACT_EMAIL``          e-mail put in the User-Agent (Crossref's        ``contact_email``
                               "polite" pool)
``IDE_CONFIG``                 the config file (default: ``ide.toml`` in the platformdirs user
                               config directory, e.g. ``~/.config/imagedataextractor/ide.toml``)
=============================  ==============================================  =====================

Keys are held in :class:`Secret`, whose ``repr``/``str`` is ``***``: they are never printed,
logged or written to the corpus.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import HarvestError
from ..redact import register_secret

CONFIG_ENV = "IDE_CONFIG"
CONFIG_NAME = "ide.toml"

#: Requests per second allowed per service. Elsevier documents a per-second throttle per API key
#: (10/s for Article Retrieval); the others publish no per-second figure, so these stay modest.
DEFAULT_RATES_PER_S: Mapping[str, float] = {
    "elsevier": 10.0,
    "springer": 5.0,
    "springer-figures": 5.0,
    "europepmc": 10.0,
    "europepmc-figures": 5.0,
    "crossref": 5.0,
}


#: Values that stand in for a key in examples (the README demo uses "demo"): sent to a real
#: publisher they only earn a 401, and show that a demo set-up is pointing at the real services.
PLACEHOLDER_KEYS = frozenset({"demo", "...", "xxx", "changeme", "your-api-key", "your_api_key", "api-key", "key"})


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (localhost, 127.0.0.0/8, ::1), as a local replay does."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Secret:
    """A credential that does not show itself: ``repr``/``str`` give ``***``; :meth:`reveal` gives it.
    Its value is redacted from every log record and user-facing error (:mod:`imagedataextractor.redact`)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # unpickled in another process (a cluster worker), the value is registered for redaction there too
        return Secret, (self._value,)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class HarvestConfig:
    """How harvesting behaves. Times in seconds, sizes in bytes.

    max_attempts: tries per request (connection errors, timeouts, 429 and 5xx are retried with
    exponential backoff from ``backoff_initial_s`` doubling up to ``backoff_max_s``; a Retry-After
    header is honoured up to ``max_retry_after_s``). download_timeout_s: the longest one response
    may take to arrive in full. workers_per_host: concurrent requests per service;
    article_workers: articles in progress at once. rates_per_s: requests per second per service.
    """

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    download_timeout_s: float = 300.0
    max_attempts: int = 5
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 300.0
    max_article_bytes: int = 50 * 1024 * 1024
    max_figure_bytes: int = 50 * 1024 * 1024
    workers_per_host: int = 4
    article_workers: int = 8
    rates_per_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES_PER_S))

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "read_timeout_s", "download_timeout_s", "backoff_max_s"):
            if getattr(self, name) <= 0:
                raise HarvestError(f"HarvestConfig.{name} must be positive, got {getattr(self, name)}")
        if self.max_attempts < 1 or self.workers_per_host < 1 or self.article_workers < 1:
            raise HarvestError("HarvestConfig: max_attempts, workers_per_host and article_workers must be at least 1")

    def rate_for(self, service: str) -> float:
        return self.rates_per_s.get(service, DEFAULT_RATES_PER_S.get(service, 5.0))


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the services (no trailing slash)."""

    elsevier: str = "https://api.elsevier.com"
    springer: str = "https://api.springernature.com"
    springer_figures: str = "https://static-content.springer.com"
    europepmc: str = "https://www.ebi.ac.uk/europepmc/webservices/rest"
    europepmc_figures: str = "https://europepmc.org"
    crossref: str = "https://api.crossref.org"


@dataclass(frozen=True)
class Settings:
    """Endpoints, keys and contact e-mail in force for one harvest (see the module docstring)."""

    endpoints: Endpoints = field(default_factory=Endpoints)
    elsevier_api_key: Secret | None = None
    elsevier_insttoken: Secret | None = None
    springer_api_key: Secret | None = None
    contact_email: str | None = None
    config_file: Path | None = None

    def refuse_placeholder_keys(self) -> None:
        """Raise :class:`HarvestError` when a key is a placeholder (:data:`PLACEHOLDER_KEYS`) and the
        service it goes to is not on this machine: a demo whose local replay did not start must not
        go on to the real publishers."""
        uses = (
            ("IDE_ELSEVIER_API_KEY", self.elsevier_api_key, self.endpoints.elsevier),
            ("IDE_ELSEVIER_INSTTOKEN", self.elsevier_insttoken, self.endpoints.elsevier),
            ("IDE_SPRINGER_API_KEY", self.springer_api_key, self.endpoints.springer),
        )
        for variable, secret, url in uses:
            if secret is not None and secret.reveal().strip().lower() in PLACEHOLDER_KEYS and not is_loopback(url):
                raise HarvestError(
                    f"{variable} is a placeholder ({secret.reveal()!r}), refused for {url}: set a real key, or point "
                    "the IDE_*_URL variables at a local replay (python -m imagedataextractor.harvest.replay)"
                )

    def secrets(self) -> tuple[str, ...]:
        """The credential values, for redacting them from any text that might be shown or stored."""
        return tuple(s.reveal() for s in (self.elsevier_api_key, self.elsevier_insttoken, self.springer_api_key) if s)


#: (environment variable, config-file section or None for top level, key, Settings/Endpoints field)
_SOURCES = (
    ("IDE_ELSEVIER_API_KEY", "elsevier", "api_key", "elsevier_api_key"),
    ("IDE_ELSEVIER_INSTTOKEN", "elsevier", "insttoken", "elsevier_insttoken"),
    ("IDE_SPRINGER_API_KEY", "springer", "api_key", "springer_api_key"),
    ("IDE_ELSEVIER_API_URL", "elsevier", "api_url", "endpoints.elsevier"),
    ("IDE_SPRINGER_API_URL", "springer", "api_url", "endpoints.springer"),
    ("IDE_SPRINGER_FIGURE_URL", "springer", "figure_url", "endpoints.springer_figures"),
    ("IDE_EUROPEPMC_API_URL", "europepmc", "api_url", "endpoints.europepmc"),
    ("IDE_EUROPEPMC_FIGURE_URL", "europepmc", "figure_url", "endpoints.europepmc_figures"),
    ("IDE_CROSSREF_API_URL", "crossref", "api_url", "endpoints.crossref"),
    ("IDE_CONTACT_EMAIL", None, "contact_email", "contact_email"),
)
ENV_VARS = tuple(s[0] for s in _SOURCES)


def default_config_file(environ: Mapping[str, str] | None = None) -> Path:
    """``$IDE_CONFIG``, else ``ide.toml`` in the platformdirs user config directory."""
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("imagedataextractor")) / CONFIG_NAME


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]  # Python 3.10: tomli stands in for tomllib
        except ModuleNotFoundError:
            raise HarvestError(f"{path}: reading the config file needs Python 3.11+ or the tomli package") from None
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HarvestError(f"{path}: cannot read config file ({exc})") from None


def load_settings(*, config_file: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read endpoints and keys now: environment variables, then the config file, then defaults.

    A missing config file is fine (only an explicitly named one must exist); a malformed one
    raises :class:`HarvestError`. URLs lose any trailing "/".
    """
    environ = os.environ if environ is None else environ
    path = Path(config_file).expanduser() if config_file is not None else default_config_file(environ)
    if config_file is not None and not path.is_file():
        raise HarvestError(f"{path}: config file not found")
    data = _read_toml(path) if path.is_file() else {}
    values: dict[str, str] = {}
    for env, section, key, target in _SOURCES:
        table = data if section is None else data.get(section, {})
        value = environ.get(env) or (table.get(key) if isinstance(table, dict) else None)
        if value is not None and not isinstance(value, str):
            raise HarvestError(f"{path}: [{section}] {key} must be a string")
        if value:
            values[target] = value.strip()
    endpoints = Endpoints(**{k.split(".", 1)[1]: v.rstrip("/") for k, v in values.items() if k.startswith("endpoints.")})
    return Settings(
        endpoints=endpoints,
        elsevier_api_key=Secret(values["elsevier_api_key"]) if "elsevier_api_key" in values else None,
        elsevier_insttoken=Secret(values["elsevier_insttoken"]) if "elsevier_insttoken" in values else None,
        springer_api_key=Secret(values["springer_api_key"]) if "springer_api_key" in values else None,
        contact_email=values.get("contact_email"),
        config_file=path if path.is_file() else None,
    )
