"""Europe PMC: open-access full text (JATS) of articles in PubMed Central, no key needed.

``GET {base}/search?query=DOI:"{doi}"&format=json&resultType=lite`` finds the article's PMCID
(and whether it is open access); ``GET {base}/{PMCID}/fullTextXML`` gives the JATS; figure
graphics (``xlink:href`` without extension) are at ``{figure_base}/articles/{PMCID}/bin/{href}.jpg``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..document.types import Figure
from .base import FetchedArticle, SourceRecord, download_figure, rebase
from .config import Endpoints, HarvestConfig, Settings
from .http import FetchError, SavedFile, ServiceClient, user_agent

XML_TYPES = ("text/xml", "application/xml")
_IMAGE_SUFFIX = re.compile(r"\.(?:jpe?g|png|gif|tiff?)$", re.IGNORECASE)


class EuropePMCSource:
    name = "europepmc"
    missing_credentials = None

    def __init__(self, settings: Settings, config: HarvestConfig) -> None:
        self.base = settings.endpoints.europepmc
        self.figure_base = settings.endpoints.europepmc_figures
        agent = user_agent(settings.contact_email)
        self.client = ServiceClient("europepmc", config=config, user_agent=agent)
        self.figure_client = ServiceClient("europepmc-figures", config=config, user_agent=agent)

    def search(self, doi: str) -> SourceRecord | None:
        fetched = self.client.request(
            f"{self.base}/search",
            params={"query": f'DOI:"{doi}"', "format": "json", "resultType": "lite"},
            accept_types=("application/json",),
            max_bytes=1024 * 1024,
        )
        try:
            results = json.loads(fetched.body)["resultList"]["result"]
        except (ValueError, KeyError, TypeError):
            raise FetchError(f"{fetched.url}: not a Europe PMC search response", permanent=True) from None
        for result in results:
            if str(result.get("doi", "")).lower() == doi and result.get("pmcid") and result.get("isOpenAccess") == "Y":
                pmcid = result["pmcid"]
                return SourceRecord(self.name, doi, f"{self.base}/{pmcid}/fullTextXML", ids={"pmcid": pmcid})
        return None

    def fetch_article(self, record: SourceRecord) -> FetchedArticle:
        fetched = self.client.request(
            record.article_url, accept_types=XML_TYPES, max_bytes=self.client.config.max_article_bytes
        )
        return FetchedArticle(fetched.body, fetched.content_type, fetched.url, ".xml")

    def figure_urls(self, record: SourceRecord, figure: Figure) -> list[str]:
        urls = []
        for href in (figure.href, *figure.alt_hrefs):
            if not href:
                continue
            if "://" in href:
                urls.append(rebase(href, Endpoints.europepmc_figures, self.figure_base))
            else:
                name = href if _IMAGE_SUFFIX.search(href) else f"{href}.jpg"
                urls.append(f"{self.figure_base}/articles/{record.ids['pmcid']}/bin/{name}")
        return urls

    def fetch_figure(self, record: SourceRecord, figure: Figure, dest_dir: Path) -> SavedFile:
        return download_figure(self.figure_client, self.figure_urls(record, figure), figure, dest_dir)
