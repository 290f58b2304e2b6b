"""Springer Nature open access: JATS full text by DOI, figures from Springer's static-content host.

``GET {base}/openaccess/jats?q=doi:{doi}&api_key={key}`` answers a ``<response>`` whose
``records`` hold the article in JATS when it is open access (none otherwise). Figure graphics are
``MediaObjects/..._Fig1_HTML.jpg`` paths, served at
``{figure_base}/image/art%3A{doi, percent-encoded}/MediaObjects/...``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from ..document.types import Figure
from ..document.xml import parse_xml
from ..errors import DocumentError
from .base import FetchedArticle, SourceRecord, download_figure, rebase
from .config import Endpoints, HarvestConfig, Settings
from .http import FetchError, SavedFile, ServiceClient, user_agent

XML_TYPES = ("text/xml", "application/xml", "application/jats+xml")


class SpringerSource:
    name = "springer"

    def __init__(self, settings: Settings, config: HarvestConfig) -> None:
        self.base = settings.endpoints.springer
        self.figure_base = settings.endpoints.springer_figures
        self._key = settings.springer_api_key
        agent = user_agent(settings.contact_email)
        self.client = ServiceClient(
            "springer", config=config, user_agent=agent, credentials_origin=self.base, secrets=settings.secrets()
        )
        self.figure_client = ServiceClient("springer-figures", config=config, user_agent=agent, secrets=settings.secrets())

    @property
    def missing_credentials(self) -> str | None:
        return None if self._key else "no Springer Nature API key (set IDE_SPRINGER_API_KEY or [springer] api_key in ide.toml)"

    def _query(self, doi: str) -> FetchedArticle:
        fetched = self.client.request(
            f"{self.base}/openaccess/jats",
            params={"q": f"doi:{doi}", "api_key": self._key.reveal() if self._key else ""},
            accept_types=XML_TYPES,
            max_bytes=self.client.config.max_article_bytes,
        )
        return FetchedArticle(fetched.body, fetched.content_type, fetched.url, ".xml")

    def search(self, doi: str) -> SourceRecord | None:
        """Query the open-access API; its answer is the article itself when there is one."""
        answer = self._query(doi)
        try:
            root = parse_xml(answer.body, name=answer.url)
        except DocumentError as exc:
            raise FetchError(str(exc), permanent=True) from None
        if root.find(".//{*}records/{*}article") is None:
            return None
        return SourceRecord(self.name, doi, answer.url, prefetched=answer)

    def fetch_article(self, record: SourceRecord) -> FetchedArticle:
        return record.prefetched if record.prefetched is not None else self._query(record.doi)

    def figure_urls(self, record: SourceRecord, figure: Figure) -> list[str]:
        prefix = f"{self.figure_base}/image/art%3A{quote(record.doi, safe='')}/"
        return [rebase(h, Endpoints.springer_figures, self.figure_base) if "://" in h else prefix + h.lstrip("/")
                for h in (figure.href, *figure.alt_hrefs) if h]

    def fetch_figure(self, record: SourceRecord, figure: Figure, dest_dir: Path) -> SavedFile:
        return download_figure(self.figure_client, self.figure_urls(record, figure), figure, dest_dir)
