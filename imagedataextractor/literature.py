"""The article-level pipeline: DOIs or article files -> figures -> EM decision -> the single-figure
pipeline -> the database.

:func:`extract_articles` harvests each DOI as needed (:class:`~imagedataextractor.harvest.Harvester`,
into a corpus laid out by DOI) or reads local article files, parses every article into figures
with captions, decides for each figure whether it shows electron micrographs, and runs
split / scalebar / segment / measure (:mod:`imagedataextractor.pipeline`) on those that do. The
database gets the articles, every figure (caption, microscopy type, materials, EM or not), and for
EM figures their panels with scalebars, particles, size distributions and RDFs.

The EM decision: a caption naming electron microscopy (:func:`~imagedataextractor.document.analyse_caption`)
makes the figure EM, and its panels are then measured where the panel classifier
(:func:`~imagedataextractor.figsplit.split_figure`) sees a micrograph. A caption naming other
content (XRD patterns, spectra, isotherms, photographs, plots: :data:`OTHER_CONTENT`) makes it not
EM without looking at the image. Any other caption (empty, "Morphology of the product") is
*uncertain*: the figure is split and it counts as EM when a panel looks like a micrograph.

Concurrency: downloads and article parsing run in ``workers`` threads, each DOI within the
harvester's per-host rate limits, while the calling thread segments and stores; at most
``2 * workers`` articles are downloading or waiting to be segmented (a bounded queue), so memory
stays flat for any length of DOI list.

Resume: each figure is marked in the ``jobs`` table (job ``figures:<method>:<settings key>``) only
after its results are committed, and each article (job ``articles:...``) after all its figures.
A rerun with the same settings skips finished articles and figures; one that was interrupted
(Ctrl-C, SIGKILL) midway is done again, and since every store is an upsert keyed by DOI, locator,
panel and settings, nothing is stored twice. Failed items are retried by a rerun.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .document.corpus import ARTICLE_SUFFIXES, DoiError, article_file, dirname_to_doi, iter_articles, normalise_doi, safe_filename
from .errors import DocumentError, IDEError
from .pipeline import ImageResult, _figure_results, _Settings, _store
from .segment.predict import BPartISConfig
from .store.database import StoreError

if TYPE_CHECKING:
    from .document import Article, Figure
    from .figsplit import Panel
    from .harvest import HarvestConfig, Harvester, PublisherChoice, Settings
    from .store import Database

log = logging.getLogger(__name__)

Status = Literal["done", "skipped", "failed"]
#: "em": the caption names electron microscopy; "other": it names other content; "uncertain": neither.
CaptionVerdict = Literal["em", "other", "uncertain"]

#: File name endings read as article files in a directory (besides the corpus layout's article.*).
ARTICLE_FILE_SUFFIXES = (*ARTICLE_SUFFIXES, ".htm")

#: What a caption names when its figure is not electron microscopy: characterisation data, charts,
#: schemes, photographs and other microscopies. Acronyms are case-sensitive ("PL", not "pl").
OTHER_CONTENT = re.compile(
    r"\b(?:XRD|XPS|FT-?IR|IR|NMR|TGA|DSC|DLS|AFM|EDX|EDS|BET|SAXS|UV|PL|CV|EIS)\b"
    r"|\b(?i:spectr\w*|patterns?|isotherms?|plot(?:s|ted)?|curves?|graphs?|histograms?|charts?|diagrams?|schem\w*|illustrations?"
    r"|as a function of|profiles?|kinetics|photographs?|optical|fluorescen\w*|confocal|voltammo\w*|nyquist|viability"
    r"|degradation|adsorption|absorption)\b"
)

NOT_EM_CAPTION = "caption names no electron microscopy"
NOT_EM_IMAGE = "caption names no electron microscopy and no panel looks like a micrograph"
ALREADY_DONE = "already extracted"
#: Width of ``figures.microscopy_type`` (PostgreSQL enforces it).
MICROSCOPY_TYPE_CHARS = 32


def caption_verdict(caption: str, *, is_em: bool) -> CaptionVerdict:
    """Whether a caption settles the EM question: "em" (``is_em``, from
    :func:`~imagedataextractor.document.analyse_caption`), "other" (it names non-EM content, see
    :data:`OTHER_CONTENT`), or "uncertain" (the image must decide).

    Example
    -------
    >>> caption_verdict("XRD patterns of the calcined samples.", is_em=False)
    'other'
    >>> caption_verdict("Morphology of the as-prepared powder.", is_em=False)
    'uncertain'
    """
    if is_em:
        return "em"
    return "other" if OTHER_CONTENT.search(caption) else "uncertain"


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


def is_article_source(path: str | Path) -> bool:
    """True for an article file (.xml, .html, .htm), an article directory of a corpus, or a
    directory holding either; False for image files and folders of images."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() in ARTICLE_FILE_SUFFIXES
    return path.is_dir() and bool(find_articles(path))


def find_articles(path: str | Path) -> list[Path]:
    """The article files of ``path``: the file itself; an article directory's ``article.*``; or,
    for any other directory, the articles of the corpus laid out in it by DOI followed by the
    article files lying in it directly (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DocumentError(f"{path}: no such file or directory")
    own = article_file(path)
    if own is not None:
        return [own]
    in_corpus = [file for _doi, file in iter_articles(path)]
    loose = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in ARTICLE_FILE_SUFFIXES)
    return in_corpus + loose


def settings_key(settings: _Settings) -> str:
    """12 hex digits naming the settings of a run: the jobs of a rerun with other settings are
    separate, so it measures everything again (beside, not over, the earlier results)."""
    values: dict[str, Any] = {"method": settings.method, "split": settings.split, "scalebar": settings.scalebar, "keep_border": settings.keep_border}
    if not settings.mask_labels:  # only when off, so the keys of runs from before the option stay valid
        values["mask_labels"] = False
    if settings.method.startswith("bpartis"):
        # Where it runs and whether its activations are compiled do not change the results.
        values["bpartis"] = {k: v for k, v in asdict(settings.bpartis).items() if k not in ("device", "compile")}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


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
        article = parse_article(path, chem_ner=chem_ner)  # type: ignore[arg-type]
    except DocumentError as exc:
        return _Loaded(text, outcome.doi, outcome.doi, None, outcome.source, "failed", str(exc))
    note = outcome.reason if outcome.status != "done" and outcome.reason != "already harvested" else None
    return _Loaded(text, outcome.doi, outcome.doi, article, outcome.source, harvest_note=note)


def _load_file(path: Path, chem_ner: str) -> _Loaded:
    """Parse a local article file; its DOI is the article's own, else its corpus directory's name."""
    from .document import parse_article

    try:
        article = parse_article(path, chem_ner=chem_ner)  # type: ignore[arg-type]
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
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        def bar(position: int, **kwargs: Any) -> Any:
            return stack.enter_context(tqdm(position=position, leave=True, disable=not self.enabled, dynamic_ncols=True, **kwargs))

        self.articles = bar(0, total=total, desc="articles", unit="article")
        self.figures = bar(1, total=0, desc="figures", unit="figure")
        self.panels = bar(2, desc="EM panels", unit="panel")
        self.particles = bar(3, desc="particles", unit="particle")
        if self.enabled:
            stack.enter_context(logging_redirect_tqdm())  # log lines go through tqdm.write, not across the bars

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


class _Run:
    """State of one :func:`extract_articles` call: the database, settings, jobs and outcomes."""

    def __init__(self, db: Database, settings: _Settings, bars: _Bars) -> None:
        self.db = db
        self.settings = settings
        self.bars = bars
        self.key = settings_key(settings)
        self.article_job = f"articles:{settings.method}:{self.key}"
        self.figure_job = f"figures:{settings.method}:{self.key}"
        self.figures: list[FigureOutcome] = []

    def article(self, loaded: _Loaded) -> ArticleOutcome:
        """Store one loaded article and extract its figures; mark it when all are finished."""
        article = loaded.article
        if article is None:
            if loaded.key is not None:
                self.db.mark(loaded.key, loaded.status, loaded.reason, job=self.article_job)
            return ArticleOutcome(loaded.item, loaded.status, loaded.reason, loaded.doi, loaded.source)
        assert loaded.key is not None  # a parsed article always has its key
        title = article.title
        if not article.figures:
            reason = article.no_figures_reason
            self.db.mark(loaded.key, "failed", reason, job=self.article_job)
            return ArticleOutcome(loaded.item, "failed", reason, loaded.doi, loaded.source, title)
        if self.db.status(loaded.key, job=self.article_job) == "done":
            return ArticleOutcome(loaded.item, "skipped", ALREADY_DONE, loaded.doi, loaded.source, title, len(article.figures))
        if loaded.doi is not None:
            self.db.upsert_article(
                loaded.doi, title=title, journal=article.journal, publisher=article.publisher, licence=article.licence,
                source=str(article.path) if loaded.source == "file" else loaded.source,
            )
        self.bars.add_figures(len(article.figures))
        outcomes = []
        for figure in article.figures:
            outcome = self.figure(loaded, figure)
            self.figures.append(outcome)
            self.bars.figure(outcome)
            outcomes.append(outcome)
        failed = [o for o in outcomes if o.status == "failed"]
        reason = f"{len(failed)} of {len(outcomes)} figures failed" if failed else None
        status: Status = "failed" if failed else "done"
        self.db.mark(loaded.key, status, reason, job=self.article_job)
        return ArticleOutcome(
            loaded.item, status, reason, loaded.doi, loaded.source, title, len(outcomes),
            sum(o.n_em_panels for o in outcomes), sum(o.n_particles for o in outcomes),
        )

    def figure(self, loaded: _Loaded, figure: Figure) -> FigureOutcome:
        """Decide, extract, store and mark one figure; its failure is recorded, never raised
        (except the database's own: without it nothing can be recorded)."""
        assert loaded.key is not None and loaded.article is not None
        item = f"{loaded.key} {figure.locator}"
        base = FigureOutcome(loaded.key, figure.locator, "done", label=figure.label, microscopy=figure.em.microscopy, materials=figure.em.materials)
        if self.db.status(item, job=self.figure_job) in ("done", "skipped"):
            return replace(base, status="skipped", reason=ALREADY_DONE)
        verdict = caption_verdict(figure.caption, is_em=figure.em.is_em)
        image_path = _image_path(figure, loaded.article.path)
        # a figure of an article with a DOI is keyed by (DOI, locator), any other by its image file
        store_key = (
            {"doi": loaded.doi, "locator": figure.locator, "source": str(image_path) if image_path else figure.href}
            if loaded.doi
            else {"source": str(image_path or f"{loaded.key}#{figure.locator}")}
        )
        figure_id = self.db.upsert_figure(
            **store_key, label=figure.label, caption=figure.caption, microscopy_type=_microscopy_type(figure.em.microscopy),
            materials=figure.em.materials, is_em=verdict == "em" if verdict != "uncertain" else None,
        )
        if verdict == "other":
            outcome = replace(base, status="skipped", reason=NOT_EM_CAPTION, is_em=False, decided_by="caption")
        elif image_path is None:
            reason = f"no image file for this figure ({_missing_image_note(figure, loaded)})"
            outcome = replace(base, status="failed", reason=reason, is_em=verdict == "em" or None)
        else:
            try:
                outcome = self._extract(base, figure_id, store_key, image_path, loaded, figure, verdict)
            except StoreError:
                raise
            except IDEError as exc:
                outcome = replace(base, status="failed", reason=str(exc), is_em=verdict == "em" or None)
            except Exception as exc:  # noqa: BLE001 - one bad figure must not stop the run; traceback logged
                log.exception("%s: unexpected error", item)
                outcome = replace(base, status="failed", reason=f"internal error: {type(exc).__name__}: {exc}")
        if outcome.status != "done":
            log.info("%s: %s, %s", item, outcome.status, outcome.reason)
        self.db.mark(item, outcome.status, outcome.reason, job=self.figure_job)  # after its results are committed
        return outcome

    def _extract(
        self, base: FigureOutcome, figure_id: int, store_key: dict[str, Any], image_path: Path, loaded: _Loaded, figure: Figure, verdict: CaptionVerdict
    ) -> FigureOutcome:
        from .imageio import read_image

        image = read_image(image_path)
        panels = _panels(image, self.settings, trust_caption=verdict == "em")
        is_em = verdict == "em" or any(p.is_micrograph for p in panels)
        self.db.upsert_figure(**store_key, sha256=hashlib.sha256(image_path.read_bytes()).hexdigest(), is_em=is_em)
        decided_by: Literal["caption", "image"] = "caption" if verdict == "em" else "image"
        if not is_em:
            return replace(base, status="skipped", reason=NOT_EM_IMAGE, is_em=False, decided_by=decided_by)
        assert loaded.article is not None and loaded.article.path is not None
        prefix = loaded.doi.replace("/", ".", 1) if loaded.doi else loaded.article.path.stem
        stem = safe_filename(f"{prefix}.{figure.locator}")  # EMPS naming, <doi with "." for "/">.<locator>
        results = _figure_results(str(image_path), stem, image, self.settings, panels=panels)
        _store(self.db, image, results, self.settings, figure_id=figure_id, doi=loaded.doi, locator=figure.locator)
        return replace(base, **_figure_status(results), is_em=True, decided_by=decided_by)


def _microscopy_type(techniques: tuple[str, ...]) -> str | None:
    """The techniques a caption names, space-separated, as many as fit the 32-character column."""
    text = ""
    for name in techniques:
        if len(text) + len(name) + bool(text) > MICROSCOPY_TYPE_CHARS:
            break
        text = f"{text} {name}" if text else name
    return text or None


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


def _panels(image: np.ndarray, settings: _Settings, *, trust_caption: bool) -> list[Panel]:
    """The panels to measure: the split figure, or the whole image as one panel (``split=False``),
    classified unless the caption already says it is a micrograph."""
    from .figsplit import Panel, SplitConfig, split_figure
    from .figsplit.classify import classify_panel

    if settings.split:
        return split_figure(image)
    height, width = image.shape[:2]
    is_micrograph, reason = (True, None) if trust_caption else classify_panel(image, config=SplitConfig())
    return [Panel((0, 0, width, height), None, is_micrograph, reason, image)]


def _missing_image_note(figure: Figure, loaded: _Loaded) -> str:
    """Why a figure has no image file: for a local article the file it names is not there; for a
    harvested one, the harvest's failure."""
    if loaded.source != "file":
        return loaded.harvest_note or "not harvested"
    folder = loaded.article.path.parent if loaded.article is not None and loaded.article.path is not None else None
    if not figure.href:
        return "the article names no image file"
    return f"{figure.href} not found in {folder}" if "://" not in figure.href else f"{figure.href} is not a local file"


def _image_path(figure: Figure, article_path: Path | None) -> Path | None:
    """The figure's image file: the corpus layout's ``figures/<locator>.*``, else the figure's
    href when it names a file next to the article (publisher HTML saved with its images)."""
    if figure.image_path is not None:
        return figure.image_path
    if article_path is None or not figure.href or "://" in figure.href:
        return None
    candidate = (article_path.parent / figure.href).resolve()
    folder = article_path.parent.resolve()
    return candidate if candidate.is_file() and folder in candidate.parents else None


def extract_articles(
    dois: Iterable[str] = (),
    *,
    articles: Iterable[str | Path] = (),
    db: str | Path | Database,
    corpus: str | Path | None = None,
    workers: int = 4,
    method: str = "bpartis",
    split: bool = True,
    scalebar: bool = True,
    keep_border: bool = False,
    mask_labels: bool = True,
    bpartis: BPartISConfig = BPartISConfig(),
    publisher: PublisherChoice = "auto",
    harvest_config: HarvestConfig | None = None,
    harvest_settings: Settings | None = None,
    chem_ner: Literal["auto", "builtin", "chemdataextractor"] = "auto",
    progress: bool = False,
) -> ArticlesSummary:
    """Extract every EM image of some articles, with its particles measured, into a database.

    Parameters
    ----------
    dois : DOIs, as written (validated one by one; duplicates after normalising are done once).
        Each is harvested into ``corpus`` unless it is there already.
    articles : local article files (Elsevier XML, JATS, publisher HTML) or directories of them
        (:func:`find_articles`); figure images are looked up in ``figures/`` beside each file.
    db : database path, SQLAlchemy URL or open :class:`~imagedataextractor.store.Database`.
    corpus : the corpus directory for harvesting (required with ``dois``).
    workers : articles downloaded and parsed at once, in threads, while this thread segments.
    method, split, scalebar, keep_border, mask_labels, bpartis : as for :func:`imagedataextractor.pipeline.extract`.
    publisher, harvest_config, harvest_settings : as for :class:`~imagedataextractor.harvest.Harvester`
        (endpoints and keys come from the environment and config file when not given).
    chem_ner : caption material recogniser (see :func:`~imagedataextractor.document.analyse_caption`).
    progress : tqdm bars for articles, figures, EM panels and particles.

    Returns
    -------
    ArticlesSummary
        One outcome per article (input order) and per figure; a failure (article not harvested,
        malformed, no figures; figure unreadable) is recorded with its reason and the run goes on.
        A database that cannot be written raises :class:`~imagedataextractor.store.StoreError`.

    Example
    -------
    >>> summary = extract_articles(["10.1016/j.snb.2019.127107"], corpus="corpus", db="ide.sqlite")  # doctest: +SKIP
    >>> summary.count("done"), summary.n_em_panels, summary.n_particles  # doctest: +SKIP
    (1, 3, 230)
    """
    from .harvest import Harvester
    from .store import Database, open_db

    started = time.monotonic()
    if workers < 1:
        raise IDEError(f"workers={workers}: must be at least 1")
    unique: dict[str, str] = {}
    for text in dois:
        try:
            unique.setdefault(normalise_doi(text), text)
        except DoiError:
            unique.setdefault(text.strip(), text)
    files = [file for source in articles for file in find_articles(source)]
    if unique and corpus is None:
        raise IDEError("extract_articles: give a corpus directory to harvest DOIs into")
    settings = _Settings(method, split, scalebar, keep_border, bpartis, mask_labels)
    bars = _Bars(progress)
    with ExitStack() as stack:
        database = db if isinstance(db, Database) else stack.enter_context(open_db(db))
        run = _Run(database, settings, bars)
        bars.open(stack, len(unique) + len(files))
        finished: dict[int, ArticleOutcome] = {}
        loaders: list[tuple[int, str, Callable[[], _Loaded]]] = []
        if unique:
            harvester = stack.enter_context(
                Harvester(corpus, publisher=publisher, config=harvest_config, settings=harvest_settings)  # type: ignore[arg-type]
            )
            done_before = database.items("done", job=run.article_job)
            for index, (key, text) in enumerate(unique.items()):
                if key in done_before:  # finished in an earlier run: not even the corpus is looked at
                    finished[index] = ArticleOutcome(text, "skipped", ALREADY_DONE, key)
                    bars.article(finished[index])
                else:
                    loaders.append((index, text, lambda text=text: _load_doi(harvester, text, chem_ner)))
        for index, file in enumerate(files, start=len(unique)):
            loaders.append((index, str(file), lambda file=file: _load_file(file, chem_ner)))
        for index, loaded in _overlapped(loaders, workers, stack):
            outcome = run.article(loaded)
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
