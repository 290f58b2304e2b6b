"""The article-level pipeline: DOIs or article files -> figures -> EM decision -> the single-figure
pipeline -> the database.

:func:`extract_articles` harvests each DOI as needed (:class:`~imagedataextractor.harvest.Harvester`,
into a corpus laid out by DOI) or reads local article files, parses every article into figures
with captions, decides for each figure whether it shows electron micrographs, and runs
split / scalebar / segment / measure (:mod:`imagedataextractor.pipeline`) on those that do. The
database gets the articles, every figure (caption, microscopy type, materials, EM or not), and for
EM figures their panels with scalebars, particles, size distributions and RDFs.

The EM decision is :mod:`imagedataextractor.document.em`'s: a caption naming electron microscopy
makes the figure EM, and its panels are then measured where the panel classifier sees a
micrograph; a caption naming other content makes it not EM without looking at the image; for any
other caption the figure is split and counts as EM when a panel looks like a micrograph. Each
figure runs through :func:`~imagedataextractor.pipeline.extract_figure` and is saved, its row and
its panels together, once (:func:`~imagedataextractor.persistence.save_figure`).

Concurrency: downloads and article parsing run in ``workers`` threads, each DOI within the
harvester's per-host rate limits, while the calling thread segments and stores; at most
``2 * workers`` articles are downloading or waiting to be segmented (a bounded queue), so memory
stays flat for any length of DOI list. With ``cluster``, the same steps are Dask tasks (one per
article load, one per figure) on the cluster's workers (:mod:`imagedataextractor.cluster`), and this
process stores the articles, marks them and shows the progress.

Resume: each figure is marked in the ``jobs`` table (job ``figures:<method>:<settings key>``) only
after its results are committed, and each article (job ``articles:...``) after all its figures.
A rerun with the same settings skips finished articles and figures; one that was interrupted
(Ctrl-C, SIGKILL) midway is done again, and since every store is an upsert keyed by DOI, locator,
panel and settings, nothing is stored twice. Failed items are retried by a rerun.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .doi import DoiError, dirname_to_doi, emps_stem, normalise_doi
from .document.corpus import article_file, figure_image, find_articles
from .document.em import caption_verdict
from .errors import DocumentError, IDEError
from .persistence import ArticleInfo, FigureInfo, FigureRows, figure_rows, save_article, save_figure_rows
from .pipeline import ALREADY_EXTRACTED, ImageResult, extract_figure, figure_panels, with_options
from .progress import open_bar, route_logging, wanted
from .settings import ExtractSettings
from .status import Status
from .store.database import StoreError

if TYPE_CHECKING:
    from .cluster import ClusterSpec
    from .document import Article, Figure
    from .harvest import HarvestConfig, Harvester, Settings
    from .harvest.harvester import PublisherChoice
    from .store import Database

log = logging.getLogger(__name__)

NOT_EM_CAPTION = "caption names no electron microscopy"
NOT_EM_IMAGE = "caption names no electron microscopy and no panel looks like a micrograph"


# -- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureOutcome:
    """What happened to one figure. article: the article's key (DOI, or the file path of an article
    without one). decided_by: "caption" or "image" (an uncertain caption), None when not decided
    (done before, or no image). n_em_panels: micrograph panels measured; n_particles: particles in them."""

    article: str
    locator: str
    status: Status
    reason: str | None = None
    label: str | None = None
    is_em: bool | None = None
    decided_by: Literal["caption", "image"] | None = None
    microscopy: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    n_em_panels: int = 0
    n_particles: int = 0

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "microscopy": list(self.microscopy), "materials": list(self.materials)}


@dataclass(frozen=True)
class ArticleOutcome:
    """What happened to one article. item: the DOI as asked for, or the article file; doi: the
    normalised DOI when known; source: the harvest source ("elsevier", ...) or "file"."""

    item: str
    status: Status
    reason: str | None = None
    doi: str | None = None
    source: str | None = None
    title: str | None = None
    n_figures: int = 0
    n_em_panels: int = 0
    n_particles: int = 0

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArticlesSummary:
    """Every article and figure outcome of one :func:`extract_articles` run (articles in input
    order), with the database URL (password hidden), the settings key of the jobs, and run time."""

    articles: tuple[ArticleOutcome, ...]
    figures: tuple[FigureOutcome, ...]
    db: str
    settings_key: str
    elapsed_s: float

    @property
    def n_em_panels(self) -> int:
        return sum(f.n_em_panels for f in self.figures)

    @property
    def n_particles(self) -> int:
        return sum(f.n_particles for f in self.figures)

    def count(self, status: Status, *, of: Literal["articles", "figures"] = "articles") -> int:
        return sum(o.status == status for o in (self.articles if of == "articles" else self.figures))

    def reasons(self, status: Status, *, of: Literal["articles", "figures"] = "figures") -> Counter[str]:
        """How many articles or figures ended with ``status``, per reason."""
        return Counter(o.reason or "" for o in (self.articles if of == "articles" else self.figures) if o.status == status)

    def to_dict(self) -> dict[str, Any]:
        """The summary as one JSON-ready object: counts, then every outcome."""
        counts = {
            of: {status: self.count(status, of=of) for status in ("done", "skipped", "failed")} for of in ("articles", "figures")
        }
        return {
            "db": self.db,
            "settings_key": self.settings_key,
            "elapsed_s": round(self.elapsed_s, 3),
            **counts,
            "n_em_panels": self.n_em_panels,
            "n_particles": self.n_particles,
            "skipped_figures": dict(self.reasons("skipped")),
            "article_outcomes": [a.to_record() for a in self.articles],
            "figure_outcomes": [f.to_record() for f in self.figures],
        }


# -- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """An article ready for the main thread (article set), or why there is none (status, reason)."""

    item: str
    key: str | None = None  # job key: the DOI, or the file path of an article without one
    doi: str | None = None
    article: Article | None = None
    source: str | None = None
    status: Status = "done"
    reason: str | None = None
    harvest_note: str | None = None  # why figure files may be missing (the harvest's failure)


def _load_doi(harvester: Harvester, text: str, chem_ner: str) -> _Loaded:
    """Harvest one DOI (a no-op when the corpus holds it already) and parse it; runs in a worker."""
    from .document import parse_article

    from .harvest.provenance import read_provenance

    outcome = harvester.harvest_one(text)
    path = article_file(outcome.directory) if outcome.directory is not None else None
    if path is None:
        # the harvester skips a DOI that failed for good before; here it is still a failed article
        failed_before = outcome.directory is not None and (read_provenance(outcome.directory) or {}).get("status") == "failed"
        status: Status = "failed" if outcome.status == "done" or failed_before else outcome.status
        return _Loaded(text, outcome.doi, None, None, outcome.source, status, outcome.reason or "no article file was harvested")
    try:
        article = parse_article(path, chem_ner=chem_ner)  # type: ignore[arg-type]  # chem_ner is checked by parse_article
    except DocumentError as exc:
        return _Loaded(text, outcome.doi, outcome.doi, None, outcome.source, "failed", str(exc))
    note = outcome.reason if outcome.status != "done" and outcome.reason != "already harvested" else None
    return _Loaded(text, outcome.doi, outcome.doi, article, outcome.source, harvest_note=note)


def _load_file(path: Path, chem_ner: str) -> _Loaded:
    """Parse a local article file; its DOI is the article's own, else its corpus directory's name."""
    from .document import parse_article

    try:
        article = parse_article(path, chem_ner=chem_ner)  # type: ignore[arg-type]  # chem_ner is checked by parse_article
    except DocumentError as exc:
        return _Loaded(str(path), str(path.resolve()), status="failed", reason=str(exc))
    doi = article.doi
    if doi is None:
        try:
            doi = dirname_to_doi(path.parent.name)
        except DoiError:
            doi = None
    return _Loaded(str(path), doi or str(path.resolve()), doi, article, "file")


def _safe(load: Callable[[], _Loaded], item: str) -> _Loaded:
    """Run a loader; an unexpected error (a bug) is logged with its traceback and recorded, so that
    it cannot stop the other articles."""
    try:
        return load()
    except Exception as exc:  # noqa: BLE001 - the run must go on; the traceback is logged
        log.exception("%s: unexpected error", item)
        return _Loaded(item, status="failed", reason=f"internal error: {type(exc).__name__}: {exc}")


# -- the run --------------------------------------------------------------------------------------------


@dataclass
class _Bars:
    """One tqdm bar per stage: articles, figures (total grows as articles are parsed), EM panels, particles."""

    enabled: bool
    articles: Any = None
    figures: Any = None
    panels: Any = None
    particles: Any = None
    counts: dict[str, Counter[str]] = field(default_factory=lambda: {"articles": Counter(), "figures": Counter()})

    def open(self, stack: ExitStack, total: int) -> None:
        self.articles = open_bar(stack, self.enabled, 0, total=total, desc="articles", unit="article")
        self.figures = open_bar(stack, self.enabled, 1, total=0, desc="figures", unit="figure")
        self.panels = open_bar(stack, self.enabled, 2, desc="EM panels", unit="panel")
        self.particles = open_bar(stack, self.enabled, 3, desc="particles", unit="particle")
        route_logging(stack, self.enabled)

    def article(self, outcome: ArticleOutcome) -> None:
        self.counts["articles"][outcome.status] += 1
        self.articles.set_postfix(self.counts["articles"], refresh=False)
        self.articles.update()

    def add_figures(self, n: int) -> None:
        self.figures.total += n
        self.figures.refresh()

    def figure(self, outcome: FigureOutcome) -> None:
        self.counts["figures"][outcome.status] += 1
        self.figures.set_postfix(self.counts["figures"], refresh=False)
        self.figures.update()
        self.panels.update(outcome.n_em_panels)
        self.particles.update(outcome.n_particles)


@dataclass(frozen=True)
class _FigureJob:
    """One figure to extract, with what is known of its article: its job key, DOI, file, source, and
    why figure files may be missing (the harvest's failure). Small enough to be a task argument."""

    key: str
    doi: str | None
    article_path: Path | None
    source: str | None
    harvest_note: str | None
    figure: Figure

    @property
    def item(self) -> str:
        """The figure's item in the jobs table."""
        return f"{self.key} {self.figure.locator}"


class _Run:
    """State of one :func:`extract_articles` call: the database, settings, jobs and outcomes."""

    def __init__(self, db: Database, settings: ExtractSettings, bars: _Bars) -> None:
        self.db = db
        self.settings = settings
        self.bars = bars
        self.key = settings.key()
        self.article_job = f"articles:{settings.method}:{self.key}"
        self.figure_job = f"figures:{settings.method}:{self.key}"
        self.figures: list[FigureOutcome] = []

    def article(self, loaded: _Loaded) -> ArticleOutcome:
        """Store one loaded article and extract its figures here; mark it when all are finished."""
        jobs = self.begin(loaded)
        if isinstance(jobs, ArticleOutcome):
            return jobs
        outcomes = [self.figure(job) for job in jobs]
        self.figures.extend(outcomes)
        return self.finish(loaded, outcomes)

    def begin(self, loaded: _Loaded) -> ArticleOutcome | list[_FigureJob]:
        """An article's outcome when it has nothing to extract (not loaded, no figures, done
        before); else its row is stored and its figures are returned as jobs."""
        article = loaded.article
        if article is None:
            if loaded.key is not None:
                self.db.mark(loaded.key, loaded.status, loaded.reason, job=self.article_job)
            return ArticleOutcome(loaded.item, loaded.status, loaded.reason, loaded.doi, loaded.source)
        assert loaded.key is not None  # a parsed article always has its key
        title = article.title
        if not article.figures:
            reason: str | None = article.no_figures_reason
            self.db.mark(loaded.key, "failed", reason, job=self.article_job)
            return ArticleOutcome(loaded.item, "failed", reason, loaded.doi, loaded.source, title)
        if self.db.status(loaded.key, job=self.article_job) == "done":
            return ArticleOutcome(loaded.item, "skipped", ALREADY_EXTRACTED, loaded.doi, loaded.source, title, len(article.figures))
        if loaded.doi is not None:
            origin = str(article.path) if loaded.source == "file" else loaded.source
            save_article(self.db, ArticleInfo(loaded.doi, title, article.journal, article.publisher, article.licence, origin))
        self.bars.add_figures(len(article.figures))
        return [_FigureJob(loaded.key, loaded.doi, article.path, loaded.source, loaded.harvest_note, figure) for figure in article.figures]

    def finish(self, loaded: _Loaded, outcomes: list[FigureOutcome]) -> ArticleOutcome:
        """Mark an article whose figures are all finished; its outcome."""
        assert loaded.key is not None and loaded.article is not None
        failed = [o for o in outcomes if o.status == "failed"]
        reason = f"{len(failed)} of {len(outcomes)} figures failed" if failed else None
        status: Status = "failed" if failed else "done"
        self.db.mark(loaded.key, status, reason, job=self.article_job)
        return ArticleOutcome(
            loaded.item, status, reason, loaded.doi, loaded.source, loaded.article.title, len(outcomes),
            sum(o.n_em_panels for o in outcomes), sum(o.n_particles for o in outcomes),
        )

    def done_before(self, job: _FigureJob) -> FigureOutcome | None:
        """The skipped outcome of a figure an earlier run finished, else None."""
        if self.db.status(job.item, job=self.figure_job) in ("done", "skipped"):
            return replace(_base_outcome(job), status="skipped", reason=ALREADY_EXTRACTED)
        return None

    def store(self, job: _FigureJob, outcome: FigureOutcome, rows: FigureRows) -> None:
        """Save a figure's rows, then mark it (after its results are committed)."""
        _store_figure(self.db, self.figure_job, job, outcome, rows)

    def counted(self, outcome: FigureOutcome) -> FigureOutcome:
        self.bars.figure(outcome)
        return outcome

    def figure(self, job: _FigureJob) -> FigureOutcome:
        """Decide, extract, store and mark one figure here (see :func:`_extract_figure_job`)."""
        outcome = self.done_before(job)
        if outcome is None:
            outcome, rows = _extract_figure_job(job, self.settings)
            self.store(job, outcome, rows)
        return self.counted(outcome)


def _base_outcome(job: _FigureJob) -> FigureOutcome:
    figure = job.figure
    return FigureOutcome(job.key, figure.locator, "done", label=figure.label, microscopy=figure.em.microscopy, materials=figure.em.materials)


def _store_figure(db: Database, figure_job: str, job: _FigureJob, outcome: FigureOutcome, rows: FigureRows) -> None:
    """Save a figure's rows, then mark it done/skipped/failed in ``figure_job``: a figure is marked
    only after its results are committed, and saving again replaces (upserts), never adds."""
    save_figure_rows(db, rows)
    if outcome.status != "done":
        log.info("%s: %s, %s", job.item, outcome.status, outcome.reason)
    db.mark(job.item, outcome.status, outcome.reason, job=figure_job)


def _extract_figure_job(job: _FigureJob, settings: ExtractSettings) -> tuple[FigureOutcome, FigureRows]:
    """Decide whether a figure is EM, extract it when it is, and make its rows; its failure is
    recorded in the outcome, never raised. The figure's row and its panels are stored together."""
    figure = job.figure
    base = _base_outcome(job)
    verdict = caption_verdict(figure.caption, is_em=figure.em.is_em)
    image_path = figure_image(figure, job.article_path)
    # a figure of an article with a DOI is keyed by (DOI, locator), any other by its image file
    source = (str(image_path) if image_path else figure.href) if job.doi else str(image_path or f"{job.key}#{figure.locator}")
    info = FigureInfo(
        doi=job.doi, locator=figure.locator, source=source, label=figure.label, caption=figure.caption,
        microscopy=figure.em.microscopy, materials=figure.em.materials, is_em=None if verdict == "uncertain" else verdict == "em",
    )
    image: np.ndarray | None = None
    results: list[ImageResult] = []
    if verdict == "other":
        outcome = replace(base, status="skipped", reason=NOT_EM_CAPTION, is_em=False, decided_by="caption")
    elif image_path is None:
        reason = f"no image file for this figure ({_missing_image_note(job)})"
        outcome = replace(base, status="failed", reason=reason, is_em=verdict == "em" or None)
    else:
        try:
            from .imageio import read_image

            image = read_image(image_path)
            panels = figure_panels(image, settings, classify=verdict != "em")
            is_em = verdict == "em" or any(p.is_micrograph for p in panels)
            info = replace(info, is_em=is_em)
            decided_by: Literal["caption", "image"] = "caption" if verdict == "em" else "image"
            if not is_em:
                outcome = replace(base, status="skipped", reason=NOT_EM_IMAGE, is_em=False, decided_by=decided_by)
            else:
                stem = emps_stem(job.doi or Path(job.key).stem, figure.locator)  # an article without a DOI is keyed by its path
                results = extract_figure(image, settings, panels, source=str(image_path), stem=stem)
                outcome = replace(base, **_figure_status(results), is_em=True, decided_by=decided_by)
        except IDEError as exc:
            outcome = replace(base, status="failed", reason=str(exc), is_em=verdict == "em" or None)
        except Exception as exc:  # noqa: BLE001 - one bad figure must not stop the run; traceback logged
            log.exception("%s: unexpected error", job.item)
            outcome = replace(base, status="failed", reason=f"internal error: {type(exc).__name__}: {exc}")
    return outcome, figure_rows(image, results, settings, info)


def _figure_status(results: list[ImageResult]) -> dict[str, Any]:
    """status, reason and counts of a figure from its panel results: done when a panel was
    measured, else failed when one failed, else skipped (no panel looked like a micrograph)."""
    done = [r for r in results if r.status == "done"]
    failed = [r for r in results if r.status == "failed"]
    counts = {"n_em_panels": len(done), "n_particles": sum(len(r.particles) for r in done)}
    if done:
        return {"status": "done", "reason": None, **counts}
    if failed:
        return {"status": "failed", "reason": failed[0].reason, **counts}
    return {"status": "skipped", "reason": f"no micrograph panel ({results[0].reason})" if results else "no panels", **counts}


def _missing_image_note(job: _FigureJob) -> str:
    """Why a figure has no image file: for a local article the file it names is not there; for a
    harvested one, the harvest's failure."""
    if job.source != "file":
        return job.harvest_note or "not harvested"
    figure = job.figure
    folder = job.article_path.parent if job.article_path is not None else None
    if not figure.href:
        return "the article names no image file"
    return f"{figure.href} not found in {folder}" if "://" not in figure.href else f"{figure.href} is not a local file"


def extract_articles(
    dois: Iterable[str] = (),
    *,
    articles: Iterable[str | Path] = (),
    db: str | Path | Database,
    corpus: str | Path | None = None,
    workers: int = 4,
    settings: ExtractSettings | None = None,
    publisher: PublisherChoice = "auto",
    harvest_config: HarvestConfig | None = None,
    harvest_settings: Settings | None = None,
    chem_ner: Literal["auto", "builtin", "chemdataextractor"] = "auto",
    progress: bool | None = None,
    cluster: str | ClusterSpec | None = None,
    cluster_config: str | Path | None = None,
    cluster_writes: Literal["workers", "client"] = "workers",
    **options: Any,
) -> ArticlesSummary:
    """Extract every EM image of some articles, with its particles measured, into a database.

    Parameters
    ----------
    dois : DOIs, as written (validated one by one; duplicates after normalising are done once).
        Each is harvested into ``corpus`` unless it is there already.
    articles : local article files (Elsevier XML, JATS, publisher HTML) or directories of them
        (:func:`~imagedataextractor.document.corpus.find_articles`); figure images are looked up in ``figures/`` beside each file.
    db : database path, SQLAlchemy URL or open :class:`~imagedataextractor.store.Database`.
    corpus : the corpus directory for harvesting (required with ``dois``).
    workers : articles downloaded and parsed at once, in threads, while this thread segments
        (without ``cluster``).
    settings, options : the runner's settings, as for :func:`imagedataextractor.pipeline.extract`.
    publisher, harvest_config, harvest_settings : as for :class:`~imagedataextractor.harvest.Harvester`
        (endpoints and keys come from the environment and config file when not given).
    chem_ner : caption material recogniser (see :func:`~imagedataextractor.document.analyse_caption`).
    progress : tqdm bars on stderr for articles, figures, EM panels and particles; None: on when
        stderr is a terminal.
    cluster : run on Dask (extra ``distributed``): ``"local:N"`` (N worker processes here),
        ``"tcp://HOST:PORT"`` (a running scheduler), or ``"slurm"``, ``"pbs"``, ``"lsf"`` with
        ``cluster_config`` (a YAML file, :class:`~imagedataextractor.cluster.JobsConfig`). Each
        article's harvest and each figure's extraction is a task; learned segmentation goes to
        workers with the resource GPU when there are any (on CUDA there, where the settings
        say cpu); the publishers' rate limits hold for
        the whole cluster; the Dask dashboard's address is written to stderr. Workers need the
        corpus directory at the same path (a shared file system) and the database: PostgreSQL, or
        SQLite with ``local:N`` only.
    cluster_writes : "workers": each figure task stores its own rows (the default, measured the
        faster in BENCHMARKS.md); "client": the rows come back to this process, which stores them.

    Returns
    -------
    ArticlesSummary
        One outcome per article (input order) and per figure; a failure (article not harvested,
        malformed, no figures; figure unreadable; a figure task lost with its workers more times
        than Dask allows) is recorded with its reason and the run goes on.
        A database that cannot be written raises :class:`~imagedataextractor.store.StoreError`.

    Example
    -------
    >>> summary = extract_articles(["10.1016/j.snb.2019.127107"], corpus="corpus", db="ide.sqlite")  # doctest: +SKIP
    >>> summary.count("done"), summary.n_em_panels, summary.n_particles  # doctest: +SKIP
    (1, 3, 230)
    """
    from .cluster import ClusterSpec, parse_cluster
    from .harvest import Harvester, load_settings
    from .store import Database, open_db

    started = time.monotonic()
    if workers < 1:
        raise IDEError(f"workers={workers}: must be at least 1")
    if cluster_writes not in ("workers", "client"):
        raise IDEError(f"cluster_writes={cluster_writes!r}: choose from workers, client")
    spec = cluster if isinstance(cluster, ClusterSpec) or cluster is None else parse_cluster(cluster, cluster_config)
    unique: dict[str, str] = {}
    for text in dois:
        try:
            unique.setdefault(normalise_doi(text), text)
        except DoiError:
            unique.setdefault(text.strip(), text)
    files = [file for source in articles for file in find_articles(source)]
    if unique and corpus is None:
        raise IDEError("extract_articles: give a corpus directory to harvest DOIs into")
    run_settings = with_options(settings or ExtractSettings(), options)
    bars = _Bars(wanted(progress))
    with ExitStack() as stack:
        database = db if isinstance(db, Database) else stack.enter_context(open_db(db))
        run = _Run(database, run_settings, bars)
        bars.open(stack, len(unique) + len(files))
        finished: dict[int, ArticleOutcome] = {}
        todo: list[tuple[int, str, str | Path]] = []  # (input index, item, DOI text or article file)
        if unique:
            done_before = database.items("done", job=run.article_job)
            for index, (key, text) in enumerate(unique.items()):
                if key in done_before:  # finished in an earlier run: not even the corpus is looked at
                    finished[index] = ArticleOutcome(text, "skipped", ALREADY_EXTRACTED, key)
                    bars.article(finished[index])
                else:
                    todo.append((index, text, text))
        todo += [(index, str(file), file) for index, file in enumerate(files, start=len(unique))]
        if spec is None:
            loaders: list[tuple[int, str, Callable[[], _Loaded]]] = []
            if unique:
                harvester = stack.enter_context(
                    Harvester(corpus, publisher=publisher, config=harvest_config, settings=harvest_settings)  # type: ignore[arg-type]  # corpus is not None here: checked above when DOIs are given
                )
            for index, item, what in todo:
                load = functools.partial(_load_file, what, chem_ner) if isinstance(what, Path) else functools.partial(_load_doi, harvester, what, chem_ner)
                loaders.append((index, item, load))
            outcomes: Iterator[tuple[int, ArticleOutcome]] = ((index, run.article(loaded)) for index, loaded in _overlapped(loaders, workers, stack))
        else:
            if unique:
                harvest_settings = harvest_settings or load_settings()
                harvest_settings.refuse_placeholder_keys()  # here, before any worker starts on it
            shared = _ClusterRun(
                run.settings, run.figure_job, _worker_db_url(database, spec) if cluster_writes == "workers" else None,
                None if corpus is None else Path(corpus).resolve(), publisher, harvest_config, harvest_settings, chem_ner,
            )
            outcomes = _on_cluster(run, spec, shared, todo, stack)
        for index, outcome in outcomes:
            if outcome.status != "done":
                log.info("%s: %s, %s", outcome.item, outcome.status, outcome.reason)
            finished[index] = outcome
            bars.article(outcome)
        url = database.url
    return ArticlesSummary(tuple(finished[i] for i in sorted(finished)), tuple(run.figures), url, run.key, time.monotonic() - started)


def _overlapped(loaders: list[tuple[int, str, Callable[[], _Loaded]]], workers: int, stack: ExitStack) -> Iterator[tuple[int, _Loaded]]:
    """(index, loaded article) in the order downloads finish. At most ``2 * workers`` loaders are
    running or finished-but-not-yet-consumed, so downloading stays ahead of the consumer without
    running away from it; the next loads start before the consumer processes the current one."""
    if not loaders:
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ide-article")
    # On Ctrl-C, loads not yet started never start; those under way finish their current file.
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)
    queue = iter(loaders)
    pending: dict[Future[_Loaded], int] = {}

    def refill() -> None:
        while len(pending) < 2 * workers:
            entry = next(queue, None)
            if entry is None:
                return
            index, item, load = entry
            pending[pool.submit(_safe, load, item)] = index

    refill()
    while pending:
        ready, _ = wait(pending, return_when=FIRST_COMPLETED)
        results = [(pending.pop(future), future.result()) for future in ready]
        refill()
        yield from sorted(results, key=lambda pair: pair[0])


# -- on a Dask cluster ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClusterRun:
    """What every worker of a cluster run shares, shipped once per worker process through the
    scheduler (:class:`~imagedataextractor.cluster.engine.RunOnWorkers`), never in a task: the harvest
    keys and the database password stay out of task keys, logs and spilled data. db_url: where
    figure tasks store their rows, None when they send them back to the client."""

    settings: ExtractSettings
    figure_job: str
    db_url: str | None
    corpus: Path | None
    publisher: PublisherChoice
    harvest_config: HarvestConfig | None
    harvest_settings: Settings | None
    chem_ner: Literal["auto", "builtin", "chemdataextractor"]


def _worker_db_url(database: Database, spec: ClusterSpec) -> str:
    """The database URL the workers open (password and all): SQLite only for a ``local:N`` cluster,
    as the one file must be on the workers' own disk, and as an absolute path."""
    from .errors import ClusterError

    url = database.engine.url
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=False)
    if spec.kind != "local":
        raise ClusterError(f"--cluster {spec}: workers on other machines cannot share the SQLite file {url.database}; use PostgreSQL")
    return str(Path(url.database or "").resolve())


def _worker_harvester(shared: _ClusterRun) -> Harvester:
    """A worker process's harvester: its HTTP sessions and the cluster-wide rate limiters."""
    from .cluster.engine import SharedRateLimiter
    from .harvest import Harvester

    assert shared.corpus is not None  # extract_articles requires a corpus with DOIs
    return Harvester(shared.corpus, publisher=shared.publisher, config=shared.harvest_config, settings=shared.harvest_settings,
                     limiter=SharedRateLimiter)


def _worker_database(shared: _ClusterRun) -> Database:
    from .store import open_db

    assert shared.db_url is not None  # only when workers write
    return open_db(shared.db_url)


def _load_task(run_name: str, what: str | Path) -> _Loaded:
    """A task: harvest and parse one DOI (or parse one article file) on a worker."""
    from .cluster.engine import run_values

    plugin = run_values(run_name)
    shared: _ClusterRun = plugin.values
    if isinstance(what, Path):
        return _safe(functools.partial(_load_file, what, shared.chem_ner), str(what))
    harvester = plugin.shared("harvester", _worker_harvester)
    return _safe(functools.partial(_load_doi, harvester, what, shared.chem_ner), what)


def _figure_task(run_name: str, job: _FigureJob) -> tuple[FigureOutcome, FigureRows | None]:
    """A task: extract one figure on a worker; store and mark it there (rows None), or return its rows."""
    from .cluster.engine import on_gpu_worker, run_values
    from .segment.config import LEARNED_METHODS

    plugin = run_values(run_name)
    shared: _ClusterRun = plugin.values
    settings = shared.settings
    if settings.method in LEARNED_METHODS and settings.bpartis.device == "cpu" and on_gpu_worker():
        # sent here for its GPU (where it runs does not change the settings' key)
        settings = replace(settings, bpartis=replace(settings.bpartis, device="cuda"))
    outcome, rows = _extract_figure_job(job, settings)
    if shared.db_url is None:
        return outcome, rows
    _store_figure(plugin.shared("database", _worker_database), shared.figure_job, job, outcome, rows)
    return outcome, None


def _on_cluster(run: _Run, spec: ClusterSpec, shared: _ClusterRun, todo: list[tuple[int, str, str | Path]], stack: ExitStack) -> Iterator[tuple[int, ArticleOutcome]]:
    """(index, outcome) of each article in ``todo`` as it finishes on the cluster: one task per
    article load, then one per figure (on GPU workers for learned segmentation when there are
    any); the client stores the articles and marks them, figures are stored by whoever
    ``shared.db_url`` says."""
    from .cluster.engine import GPU_RESOURCE, RunOnWorkers, as_completed, gpu_workers, open_client
    from .segment.config import LEARNED_METHODS

    from tqdm import tqdm

    client = stack.enter_context(open_client(spec))
    tqdm.write(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
    name = f"ide-run-{uuid.uuid4().hex[:12]}"
    client.register_plugin(RunOnWorkers(name, shared), name=name)
    stack.callback(client.unregister_worker_plugin, name)  # closes the workers' harvesters and connections
    gpu = run.settings.method in LEARNED_METHODS and (gpu_workers(client) > 0 or (spec.jobs is not None and spec.jobs.gpus > 0))
    resources = {GPU_RESOURCE: 1} if gpu else None
    tasks = as_completed()
    # future -> (article index, figure position or None for the article's load, item or figure job)
    what_of: dict[Any, tuple[int, int | None, str | _FigureJob]] = {}
    articles: dict[int, tuple[_Loaded, list[FigureOutcome | None]]] = {}
    for index, item, what in todo:
        future = client.submit(_load_task, name, what, key=f"ide-article-{index}-{name}", pure=False)
        what_of[future] = (index, None, item)
        tasks.add(future)
    for future in tasks:
        index, position, item_or_job = what_of.pop(future)
        try:
            result = future.result()
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - a task lost with its workers, or a bug: recorded, the run goes on
            reason = f"internal error: {type(exc).__name__}: {exc}"
            if isinstance(item_or_job, _FigureJob):
                result = (replace(_base_outcome(item_or_job), status="failed", reason=reason), None)
            else:
                result = _Loaded(item_or_job, status="failed", reason=reason)
        future.release()
        if position is None:  # an article loaded
            begun = run.begin(result)
            if isinstance(begun, ArticleOutcome):
                yield index, begun
                continue
            outcomes: list[FigureOutcome | None] = [run.done_before(job) for job in begun]
            articles[index] = (result, outcomes)
            for place, (job, before) in enumerate(zip(begun, outcomes)):
                if before is not None:
                    run.counted(before)
                    continue
                figure_future = client.submit(_figure_task, name, job, key=f"ide-figure-{index}-{place}-{name}", resources=resources, pure=False)
                what_of[figure_future] = (index, place, job)
                tasks.add(figure_future)
        else:  # a figure extracted
            outcome, rows = result
            assert isinstance(item_or_job, _FigureJob)
            if rows is not None:
                run.store(item_or_job, outcome, rows)
            articles[index][1][position] = run.counted(outcome)
        if index in articles and all(o is not None for o in articles[index][1]):
            loaded, finished = articles.pop(index)
            done = [o for o in finished if o is not None]
            run.figures.extend(done)
            yield index, run.finish(loaded, done)
