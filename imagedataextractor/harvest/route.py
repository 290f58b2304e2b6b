"""Which publisher a DOI belongs to, and which sources to try for it.

The DOI prefix decides where it is known; otherwise Crossref's REST API
(``GET {base}/works/{doi}``) names the member and publisher. Then: the publisher's own API when we
have a client and its key, and Europe PMC's open-access copy after it (or alone).
"""

from __future__ import annotations

import json
import logging

from .base import doi_path
from .config import HarvestConfig, Settings
from .http import FetchError, ServiceClient, user_agent

log = logging.getLogger(__name__)

#: DOI prefix -> publisher.
PREFIX_PUBLISHERS = {
    **dict.fromkeys(("10.1016", "10.1006", "10.1053", "10.1054", "10.1067", "10.1078"), "elsevier"),
    **dict.fromkeys(("10.1007", "10.1038", "10.1186", "10.1140", "10.1057"), "springer"),
    "10.1039": "rsc",
    "10.1021": "acs",
    "10.1002": "wiley",
    "10.1111": "wiley",
    "10.3390": "mdpi",
    "10.1371": "plos",
}
#: Crossref member id -> publisher.
CROSSREF_MEMBERS = {"78": "elsevier", "297": "springer", "292": "rsc", "316": "acs", "311": "wiley", "1968": "mdpi", "340": "plos"}
#: Publishers with their own full-text client; every other publisher is tried through Europe PMC.
SOURCES_FOR = {"elsevier": ("elsevier", "europepmc"), "springer": ("springer", "europepmc")}
FALLBACK_SOURCES = ("europepmc",)


def publisher_from_prefix(doi: str) -> str | None:
    return PREFIX_PUBLISHERS.get(doi.split("/", 1)[0])


def publisher_from_crossref(message: dict) -> str | None:
    """The publisher in a Crossref ``works`` message: by member id, else by publisher name."""
    member = str(message.get("member", ""))
    if member in CROSSREF_MEMBERS:
        return CROSSREF_MEMBERS[member]
    name = str(message.get("publisher", "")).lower()
    if "elsevier" in name:
        return "elsevier"
    if any(word in name for word in ("springer", "nature", "biomed central")):
        return "springer"
    return None


class CrossrefLookup:
    """Asks Crossref which publisher a DOI belongs to (one request per DOI)."""

    def __init__(self, settings: Settings, config: HarvestConfig) -> None:
        self.base = settings.endpoints.crossref
        self.client = ServiceClient("crossref", config=config, user_agent=user_agent(settings.contact_email))

    def publisher(self, doi: str) -> str | None:
        """The publisher of ``doi``, or None when Crossref does not know it or cannot be asked."""
        try:
            fetched = self.client.request(
                f"{self.base}/works/{doi_path(doi)}", accept_types=("application/json",), max_bytes=1024 * 1024
            )
            message = json.loads(fetched.body).get("message", {})
        except FetchError as exc:
            log.info("%s: Crossref lookup failed (%s); trying open-access sources", doi, exc)
            return None
        except (ValueError, AttributeError):
            log.info("%s: Crossref answered something that is not a works record", doi)
            return None
        return publisher_from_crossref(message) or str(message.get("publisher") or "") or None

    def close(self) -> None:
        self.client.close()
