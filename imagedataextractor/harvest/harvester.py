"""HARVEST stage: DOIs -> a corpus directory of articles and their figure files.

Each DOI is handled on its own: a failure is recorded (in the summary and in the article's
``provenance.json``) and the run goes on. Articles are fetched concurrently (``article_workers``)
and figure files through each host's own thread pool, within its rate limit.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..document.corpus import ARTICLE_STEM, DoiError, FIGURES_DIR, article_dir, article_file, figure_file, normalise_doi
from ..document.parse import parse_article, parse_article_bytes
from ..errors import DocumentError, HarvestError, IDEError
from ..redact import redact
from ..status import Status
from .base import Publisher, SourceRecord, verify_image
from .config import HarvestConfig, Settings, load_settings
from .elsevier import ElsevierSource
from .europepmc import EuropePMCSource
from .http import FetchError, Limiter, SavedFile, ServiceClient, write_atomic
from .provenance import now_iso, read_provenance, write_provenance
from .route import FALLBACK_SOURCES, SOURCES_FOR, CrossrefLookup, publisher_from_prefix
from .springer import SpringerSource

log = logging.getLogger(__name__)

PublisherChoice = Literal["auto", "elsevier", "springer", "europepmc"]
FigureChoice = Literal["all", "em"]
PUBLISHER_CHOICES: tuple[str, ...] = ("auto", "elsevier", "springer", "europepmc")


@dataclass(frozen=True)
class DoiOutcome:
    """What happened to one DOI in this run. n_fetched: files downloaded in this run (article and
    figures); n_figures: figure files the article directory now holds."""

    doi: str
    status: Status
    reason: str | None = None
    directory: Path | None = None
    source: str | None = None
    n_figures: int = 0
    n_fetched: int = 0

    def to_record(self) -> dict[str, Any]:
        return {**self.__dict__, "directory": str(self.directory) if self.directory else None}


@dataclass(frozen=True)
class HarvestSummary:
    """All outcomes, in the order of the DOI list, with run totals."""

    outcomes: tuple[DoiOutcome, ...]
    elapsed_s: float
    n_requests: int

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    def to_records(self) -> list[dict[str, Any]]:
        return [o.to_record() for o in self.outcomes]


class _Failed(Exception):
    """Internal: this DOI ends as failed or skipped with a reason."""

    def __init__(self, reason: str, *, permanent: bool, status: Status = "failed") -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.status = status


def _clean_partials(directory: Path) -> None:
    """Remove temp files an interrupted run left behind (hidden ``.*.part`` names, never counted)."""
    for folder in (directory, directory / FIGURES_DIR):
        if folder.is_dir():
            for part in folder.glob(".*.part"):
                part.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _intact(path: Path, entry: dict[str, Any] | None) -> bool:
    """Whether a kept figure file is still good: its SHA-256 is the one recorded when it was fetched,
    or, with none recorded (a file present before harvesting), it decodes."""
    if not path.is_file():
        return False
    if entry and entry.get("sha256"):
        return _sha256(path) == entry["sha256"]
    try:
        verify_image(path)
    except FetchError:
        return False
    return True


def _figure_entry(saved: SavedFile, directory: Path) -> dict[str, Any]:
    return {
        "file": saved.path.relative_to(directory).as_posix(),
        "url": saved.url,
        "content_type": saved.content_type,
        "bytes": saved.n_bytes,
        "sha256": saved.sha256,
        "fetched_at": now_iso(),
    }


class Harvester:
    """Harvests DOIs into ``corpus_dir``; use as a context manager (it owns HTTP sessions and threads).

    publisher: "auto" routes each DOI by prefix or Crossref; a name uses only that source.
    figures: "all" figure files, or "em" only those whose caption names electron microscopy.
    retry_failed: also retry DOIs whose earlier failure was permanent (404, malformed XML, ...).
    limiter: ``limiter(service, requests_per_s)`` makes each service's rate limiter (default: one
    per service in this process; a cluster run passes one shared by all its workers).
    Raises :class:`HarvestError` for a placeholder key aimed at a real service.
    """

    def __init__(
        self,
        corpus_dir: str | Path,
        *,
        publisher: PublisherChoice = "auto",
        figures: FigureChoice = "all",
        config: HarvestConfig | None = None,
        settings: Settings | None = None,
        retry_failed: bool = False,
        limiter: Callable[[str, float], Limiter] | None = None,
    ) -> None:
        if publisher not in PUBLISHER_CHOICES:
            raise HarvestError(f"publisher={publisher!r}: expected one of {', '.join(PUBLISHER_CHOICES)}")
        self.corpus_dir = Path(corpus_dir)
        self.publisher = publisher
        self.figures = figures
        self.config = config or HarvestConfig()
        self.settings = settings or load_settings()
        self.settings.refuse_placeholder_keys()
        self.retry_failed = retry_failed
        self.sources: dict[str, Publisher] = {
            s.name: s
            for s in (
                ElsevierSource(self.settings, self.config),
                SpringerSource(self.settings, self.config),
                EuropePMCSource(self.settings, self.config),
            )
        }
        self.crossref = CrossrefLookup(self.settings, self.config)
        if limiter is not None:
            for client in self._clients():
                client.limiter = limiter(client.name, self.config.rate_for(client.name))

    def __enter__(self) -> Harvester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for client in self._clients():
            client.close()

    def _clients(self) -> list[ServiceClient]:
        clients = {id(c): c for s in self.sources.values() for c in (s.client, s.figure_client)}
        return [*clients.values(), self.crossref.client]

    @property
    def n_requests(self) -> int:
        return sum(c.n_requests for c in self._clients())

    # -- one DOI ---------------------------------------------------------------------------------

    def harvest_one(self, doi_text: str) -> DoiOutcome:
        """Harvest one DOI; never raises for a problem with that DOI (it becomes the outcome)."""
        try:
            doi = normalise_doi(doi_text)
            directory = article_dir(self.corpus_dir, doi)
        except DoiError as exc:
            return DoiOutcome(doi_text.strip(), "failed", str(exc))
        previous = read_provenance(directory) or {}
        _clean_partials(directory)
        if previous.get("status") == "done" and self._complete(directory, previous):
            return DoiOutcome(doi, "skipped", "already harvested", directory, previous.get("source"), len(previous.get("figures", {})))
        if previous.get("status") == "failed" and previous.get("permanent") and not self.retry_failed:
            reason = f"failed before: {previous.get('reason')} (retry with --retry-failed)"
            return DoiOutcome(doi, "skipped", reason, directory, previous.get("source"))
        try:
            return self._harvest(doi, directory, previous)
        except _Failed as failure:
            self._record(directory, previous, doi, failure.status, str(failure), failure.permanent)
            return DoiOutcome(doi, failure.status, str(failure), directory, previous.get("source"))
        except (IDEError, OSError) as exc:
            self._record(directory, previous, doi, "failed", str(exc), False)
            return DoiOutcome(doi, "failed", str(exc), directory, previous.get("source"))

    def _record(self, directory: Path, previous: dict, doi: str, status: str, reason: str, permanent: bool) -> None:
        """Record a failure, keeping what this run already wrote (article source, figures)."""
        directory.mkdir(parents=True, exist_ok=True)
        current = read_provenance(directory) or previous
        write_provenance(directory, {**current, "doi": doi, "status": status, "reason": reason, "permanent": permanent})

    def _complete(self, directory: Path, provenance: dict) -> bool:
        """Every file the provenance lists is still there and intact (a deleted or damaged figure is
        fetched again), and it holds the figures asked for now (all figures after an ``--em-only``
        run are not)."""
        if provenance.get("figure_choice") == "em" and self.figures == "all":
            return False
        article = provenance.get("article", {}).get("file", "")
        figures = provenance.get("figures", {}).values()
        return bool(article) and (directory / article).is_file() and all(f.get("file") and _intact(directory / f["file"], f) for f in figures)

    def _candidates(self, doi: str) -> tuple[str | None, list[Publisher], list[str]]:
        """(publisher, sources to try in order, why other sources were left out)."""
        publisher: str | None
        names: tuple[str, ...]
        if self.publisher != "auto":
            publisher, names = self.publisher, (self.publisher,)
        else:
            publisher = publisher_from_prefix(doi) or self.crossref.publisher(doi)
            names = SOURCES_FOR.get(publisher or "", FALLBACK_SOURCES)
        usable, notes = [], []
        for name in names:
            missing = self.sources[name].missing_credentials
            if missing:
                notes.append(missing)
            else:
                usable.append(self.sources[name])
        return publisher, usable, notes

    def _obtain_article(self, doi: str, directory: Path, local: Path | None) -> tuple[SourceRecord, Path, dict, str | None]:
        """Find a source that has the article and fetch it (or, when ``local`` already holds it, as
        in a bulk download, only find the source for its figures). Returns (record, article path,
        provenance entry for the article, publisher)."""
        publisher, sources, notes = self._candidates(doi)
        errors: list[str] = []
        permanent = True
        for source in sources:
            try:
                record = source.search(doi)
                if record is None:
                    notes.append(f"{source.name}: no open-access full text")
                    continue
                if local is not None:
                    return record, local, {"file": local.name, "url": None, "note": "present before harvesting"}, publisher
                fetched = source.fetch_article(record)
                try:
                    article = parse_article_bytes(fetched.body, name=fetched.url, chem_ner="builtin")
                except DocumentError as exc:
                    raise FetchError(str(exc), permanent=True) from None
            except FetchError as exc:
                errors.append(f"{source.name}: {exc}")
                permanent = permanent and exc.permanent
                continue
            path = directory / f"{ARTICLE_STEM}{fetched.suffix}"
            write_atomic(path, fetched.body)
            meta = {
                "file": path.name,
                "url": fetched.url,
                "content_type": fetched.content_type,
                "bytes": len(fetched.body),
                "sha256": hashlib.sha256(fetched.body).hexdigest(),
                "fetched_at": now_iso(),
                "title": article.title,
            }
            return record, path, meta, publisher
        if errors:
            raise _Failed("; ".join(errors + notes), permanent=permanent)
        raise _Failed("; ".join(notes) or "no source for this DOI", permanent=False, status="skipped")

    def _harvest(self, doi: str, directory: Path, previous: dict) -> DoiOutcome:
        n_fetched = 0
        path = article_file(directory)
        saved_record = previous.get("record")
        if path is not None and saved_record and saved_record.get("source") in self.sources:
            record = SourceRecord(**saved_record)
            provenance = dict(previous)
        else:
            directory.mkdir(parents=True, exist_ok=True)
            local = path
            record, path, meta, publisher = self._obtain_article(doi, directory, local)
            n_fetched += local is None
            provenance = {
                "doi": doi,
                "publisher": publisher,
                "source": record.source,
                "record": {"source": record.source, "doi": record.doi, "article_url": record.article_url, "ids": record.ids},
                "article": meta,
                "figures": {},
                "figure_choice": self.figures,
                "status": "in-progress",
                "reason": None,
                "permanent": False,
            }
            write_provenance(directory, provenance)
        source = self.sources[record.source]
        article = parse_article(path, chem_ner="builtin")
        if not article.figures:
            raise _Failed(article.no_figures_reason, permanent=True)
        wanted = [f for f in article.figures if self.figures == "all" or f.em.is_em]
        figures_entry: dict[str, Any] = dict(provenance.get("figures", {}))
        pending: dict[Future, str] = {}
        for figure in wanted:
            existing = figure_file(directory, figure.locator)
            if existing is not None and not _intact(existing, figures_entry.get(figure.locator)):
                log.info("%s: %s is damaged; fetching it again", doi, existing.name)
                existing.unlink()
                figures_entry.pop(figure.locator, None)
                existing = None
            if existing is not None:
                figures_entry.setdefault(figure.locator, {"file": existing.relative_to(directory).as_posix(), "sha256": _sha256(existing)})
            else:
                pending[source.figure_client.pool.submit(source.fetch_figure, record, figure, directory / FIGURES_DIR)] = figure.locator
        failures: dict[str, FetchError] = {}
        for future in as_completed(pending):
            locator = pending[future]
            try:
                figures_entry[locator] = _figure_entry(future.result(), directory)
                n_fetched += 1
            except FetchError as exc:
                failures[locator] = exc
        provenance.update(figures=figures_entry, figure_choice=self.figures)
        if failures:
            reason = f"{len(failures)} of {len(wanted)} figures failed: " + "; ".join(str(e) for e in failures.values())
            provenance.update(status="failed", reason=reason, permanent=all(e.permanent for e in failures.values()))
        else:
            provenance.update(status="done", reason=None, permanent=False)
        write_provenance(directory, provenance)
        status: Status = "failed" if failures else "done"
        return DoiOutcome(doi, status, provenance["reason"], directory, record.source, len(figures_entry), n_fetched)


def harvest(
    dois: Iterable[str],
    *,
    corpus_dir: str | Path,
    publisher: PublisherChoice = "auto",
    figures: FigureChoice = "all",
    config: HarvestConfig | None = None,
    settings: Settings | None = None,
    retry_failed: bool = False,
    progress: bool = False,
) -> HarvestSummary:
    """Fetch each DOI's full text and figure files into ``corpus_dir`` (layout:
    :mod:`imagedataextractor.document.corpus`). Reruns fetch only what is missing.

    Settings (endpoints, keys) are read from the environment and config file now unless given.
    Duplicate DOIs (after normalising) are harvested once. Returns one outcome per distinct DOI.

    Example
    -------
    >>> summary = harvest(["10.1016/j.cej.2020.125371"], corpus_dir="corpus")  # doctest: +SKIP
    >>> summary.count("done"), summary.outcomes[0].n_figures  # doctest: +SKIP
    (1, 3)
    """
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    started = time.monotonic()
    unique: dict[str, str] = {}
    for text in dois:
        try:
            key = normalise_doi(text)
        except DoiError:
            key = text.strip()
        unique.setdefault(key, text)
    with Harvester(corpus_dir, publisher=publisher, figures=figures, config=config, settings=settings, retry_failed=retry_failed) as harvester:
        results: dict[str, DoiOutcome] = {}
        pool = ThreadPoolExecutor(max_workers=harvester.config.article_workers, thread_name_prefix="ide-article")
        try:
            futures = {pool.submit(_safe_harvest_one, harvester, text): key for key, text in unique.items()}
            # log lines go through tqdm.write so that they do not break the bar
            with tqdm(total=len(futures), disable=not progress, unit="article", desc="harvest") as bar, logging_redirect_tqdm():
                for future in as_completed(futures):
                    outcome = future.result()
                    results[futures[future]] = outcome
                    log.info("%s: %s%s", outcome.doi, outcome.status, f" ({outcome.reason})" if outcome.reason else "")
                    bar.set_postfix({s: sum(o.status == s for o in results.values()) for s in ("done", "skipped", "failed")}, refresh=False)
                    bar.update()
        finally:
            # On Ctrl-C, DOIs not yet started never start; those under way finish their current file.
            pool.shutdown(wait=True, cancel_futures=True)
        n_requests = harvester.n_requests
    return HarvestSummary(tuple(results[k] for k in unique), time.monotonic() - started, n_requests)


def _safe_harvest_one(harvester: Harvester, text: str) -> DoiOutcome:
    """Run one DOI; an unexpected error (a bug) is logged with its traceback and recorded, so that
    it cannot stop the other DOIs."""
    try:
        return harvester.harvest_one(text)
    except Exception as exc:  # noqa: BLE001 - the run must go on; the traceback is logged
        log.exception("%s: unexpected error", text)
        return DoiOutcome(text.strip(), "failed", redact(f"internal error: {type(exc).__name__}: {exc}"))
