"""Elsevier: the Article Retrieval API (full-text XML by DOI) and the Object Retrieval API (figure files).

``GET {base}/content/article/doi/{doi}?view=FULL`` with ``X-ELS-APIKey`` (and, for access through
an institution, ``X-ELS-Insttoken``) and ``Accept: text/xml`` gives the full-text XML; its
``objects`` list names each figure's files as ``{base}/content/object/eid/{eid}-{locator}{_lrg}.jpg``
Object Retrieval URLs, fetched with the same headers; the reader picks the high-resolution one.
"""

from __future__ import annotations

from pathlib import Path

from ..document.types import Figure
from .base import FetchedArticle, SourceRecord, doi_path, download_figure, rebase
from .config import Endpoints, HarvestConfig, Settings
from .http import SavedFile, ServiceClient, user_agent

XML_TYPES = ("text/xml", "application/xml")


class ElsevierSource:
    name = "elsevier"

    def __init__(self, settings: Settings, config: HarvestConfig) -> None:
        self.base = settings.endpoints.elsevier
        self._has_key = settings.elsevier_api_key is not None
        credentials = {}
        if settings.elsevier_api_key:
            credentials["X-ELS-APIKey"] = settings.elsevier_api_key.reveal()
        if settings.elsevier_insttoken:
            credentials["X-ELS-Insttoken"] = settings.elsevier_insttoken.reveal()
        self.client = ServiceClient(
            "elsevier", config=config, user_agent=user_agent(settings.contact_email), credentials=credentials,
            credentials_origin=self.base, secrets=settings.secrets()
        )
        self.figure_client = self.client

    @property
    def missing_credentials(self) -> str | None:
        return None if self._has_key else "no Elsevier API key (set IDE_ELSEVIER_API_KEY or [elsevier] api_key in ide.toml)"

    def search(self, doi: str) -> SourceRecord:
        # The Article Retrieval API is addressed by DOI directly; a 404 from fetch_article means "not here".
        return SourceRecord(self.name, doi, f"{self.base}/content/article/doi/{doi_path(doi)}")

    def fetch_article(self, record: SourceRecord) -> FetchedArticle:
        fetched = self.client.request(
            record.article_url,
            params={"view": "FULL"},
            headers={"Accept": "text/xml"},
            accept_types=XML_TYPES,
            max_bytes=self.client.config.max_article_bytes,
        )
        return FetchedArticle(fetched.body, fetched.content_type, fetched.url, ".xml")

    def fetch_figure(self, record: SourceRecord, figure: Figure, dest_dir: Path) -> SavedFile:
        # Object Retrieval URLs are absolute; anything else (a bulk file's relative name) is not ours to fetch.
        urls = [rebase(u, Endpoints.elsevier, self.base) for u in (figure.href, *figure.alt_hrefs) if u and "://" in u]
        return download_figure(self.figure_client, urls, figure, dest_dir, headers={"Accept": "image/*"})
