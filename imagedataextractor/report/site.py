"""Write the static review site: ``index.html`` (paginated, with filters), one page per article (or
per figure without an article) under ``articles/``, and its pictures beside it."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..errors import IDEError
from ..progress import open_bar, route_logging, wanted
from ..store.schema import UNCERTAINTY_MAX_NATS, UNCERTAINTY_MAX_SIDE_PX
from .draw import FigureTask, PanelPlots, draw_figure
from .load import Extraction, Group, ReportData, load

log = logging.getLogger(__name__)

#: The folder of the site's article and figure pages inside ``out``; an extraction run writing its
#: results and the site into one folder names no image's results after it.
PAGES_FOLDER = "articles"

#: Rows of the index per page: a page stays light with any number of articles.
ROWS_PER_PAGE = 200
#: Particle rows shown in a page's table (all of them are in the CSV file beside it).
TABLE_ROWS = 200
#: Particle-table columns shown, in this order, where present.
TABLE_COLUMNS = ("particle_id", "diameter_nm", "diameter_px", "area_nm2", "area_px", "feret_max_nm", "feret_min_nm", "aspect_ratio_feret",
                 "circularity", "solidity", "touches_border", "mean_uncertainty")


class ReportError(IDEError):
    """The report cannot be written (output folder, database)."""


@dataclass(frozen=True)
class ReportSummary:
    """What :func:`write_report` wrote: ``index`` (the page to open), counts and seconds taken."""

    index: Path
    n_pages: int
    n_groups: int
    n_panels: int
    n_images: int
    elapsed_s: float


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(loader=PackageLoader("imagedataextractor.report"), autoescape=select_autoescape(["html", "j2"]),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["doi_url"] = lambda doi: "https://doi.org/" + quote(doi, safe="/:;()._-<>[]")
    environment.filters["number"] = lambda value: "" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        f"{value:.4g}" if isinstance(value, float) else str(value))
    return environment


def _resolve_image(source: str | None, db_dir: Path | None) -> Path | None:
    """The figure's image file: its stored path as given (relative paths are relative to where
    the extraction ran), else relative to the database file's folder or the folder above it."""
    if not source or "://" in source or source.startswith("array:"):
        return None
    path = Path(source)
    candidates = [path] if path.is_absolute() else [path, *(base / path for base in ([db_dir, db_dir.parent] if db_dir else []))]
    return next((c for c in candidates if c.is_file()), None)


def _plots(folder: Path, extraction: Extraction, bbox) -> PanelPlots:
    stem = folder / f"e{extraction.stamp}"
    kinds = extraction.distributions
    size = next((kinds[k] for k in ("diameter_nm", "diameter_px") if k in kinds), None)
    aspect = next((row for kind, row in kinds.items() if kind.startswith("aspect_ratio")), None)
    return PanelPlots(
        overlay=stem.with_name(stem.name + "-overlay.png"),
        size=stem.with_name(stem.name + "-size.png"),
        aspect=stem.with_name(stem.name + "-aspect.png"),
        rdf=stem.with_name(stem.name + "-rdf.png"),
        uncertainty=None if extraction.row.get("uncertainty_png") is None else stem.with_name(stem.name + "-uncertainty.png"),
        bbox=bbox,
        particles=extraction.particles,
        scalebar=extraction.scalebar,
        size_distribution=size,
        aspect_distribution=aspect,
        rdf_row=extraction.rdf,
        n_particles=int(extraction.row["n_particles"]),
        uncertainty_png=extraction.row.get("uncertainty_png"),
        uncertainty_max_nats=UNCERTAINTY_MAX_NATS,
        masked_label_boxes=extraction.row.get("masked_label_boxes"),
    )


def _group_title(group: Group) -> str:
    if group.article is not None:
        return group.article["title"] or group.article["doi"]
    source = group.figures[0].row["source"] if group.figures else None
    return Path(source).name if source else group.key


#: Seconds between a drawing worker's checks that the process that started it is still alive.
_PARENT_POLL_S = 1.0


def _exit_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when its parent is gone. A pool's workers wait on a pipe
    whose write end they hold too, so a parent killed outright (SIGKILL, the OOM killer) would
    otherwise leave them waiting forever."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def write_report(db, out: str | Path, *, workers: int | None = None, rows_per_page: int = ROWS_PER_PAGE,
                 progress: bool | None = None) -> ReportSummary:
    """Write the review site for database ``db`` (path, SQLAlchemy URL or open
    :class:`~imagedataextractor.store.Database`) into folder ``out``; open ``out/index.html``.

    Pictures are drawn from the rows (particles, distributions, rdfs, scalebars, the stored
    uncertainty map and masked label boxes of extractions); overlays need the
    figure's image file where its ``source`` says (skipped, and said so, when it is gone). Pictures
    already in ``out`` for unchanged rows are kept, so a rerun redraws only what changed.
    ``workers``: processes drawing pictures (default: the CPU count; 1 draws in this process).
    ``progress``: a tqdm bar on stderr over the figures drawn and the pages written, saying which
    it is doing; None: on when stderr is a terminal.
    Raises :class:`ReportError` when ``out`` cannot be written."""
    from ..store import Database, open_db

    started = time.perf_counter()
    out = Path(out)
    try:
        (out / PAGES_FOLDER).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
    if isinstance(db, Database):
        database, owned = db, False
    else:
        database, owned = open_db(db, create=False), True
    try:
        data = load(database)
        db_file = database.engine.url.database if database.engine.url.get_backend_name() == "sqlite" else None
    finally:
        if owned:
            database.close()
    db_dir = Path(db_file).resolve().parent if db_file and db_file != ":memory:" else None

    tasks, pages = [], []
    for group in data.groups:
        folder = out / PAGES_FOLDER / group.key
        folder.mkdir(exist_ok=True)
        figures = []
        for figure in group.figures:
            image_path = _resolve_image(figure.row["source"], db_dir)
            original = folder / f"figure-{figure.row['id']}-{(figure.row['sha256'] or 'nosha')[:12]}.jpg"
            panels, plots = [], []
            for panel in figure.panels:
                extractions = []
                for extraction in panel.extractions:
                    panel_plots = _plots(folder, extraction, panel.bbox)
                    plots.append(panel_plots)
                    csv = folder / f"e{extraction.stamp}-particles.csv"
                    if not csv.exists():
                        extraction.particles.to_csv(csv, index=False)
                    extractions.append({"e": extraction, "plots": panel_plots, "csv": csv.name,
                                        "columns": [c for c in TABLE_COLUMNS if c in extraction.particles and extraction.particles[c].notna().any()]})
                panels.append({"panel": panel, "extractions": extractions})
            tasks.append(FigureTask(image_path, original, tuple(plots)))
            figures.append({"figure": figure, "image_path": image_path, "original": original.name, "panels": panels})
        pages.append((group, figures))

    with ExitStack() as stack:
        enabled = wanted(progress)
        bar = open_bar(stack, enabled, total=len(tasks) + len(pages), desc="report", unit="item")
        route_logging(stack, enabled)
        bar.set_postfix_str("drawing plots")
        workers = workers or os.cpu_count() or 1
        if workers == 1 or len(tasks) < 2:
            for task in tasks:
                draw_figure(task)
                bar.update()
        else:
            with ProcessPoolExecutor(workers, initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
                for _ in pool.map(draw_figure, tasks, chunksize=max(1, len(tasks) // (workers * 8))):
                    bar.update()

        bar.set_postfix_str("writing pages")
        environment = _environment()
        group_template = environment.get_template("group.html.j2")
        for group, figures in pages:
            html = group_template.render(group=group, title=_group_title(group), figures=figures, table_rows=TABLE_ROWS, uncertainty_max_side_px=UNCERTAINTY_MAX_SIDE_PX,
                                         exists=lambda name, folder=out / PAGES_FOLDER / group.key: (folder / name).exists(), version=__version__)
            (out / PAGES_FOLDER / f"{group.key}.html").write_text(html, encoding="utf-8")
            bar.update()

    rows = [_index_row(group) for group in data.groups] + [
        {"href": None, "title": item.item, "doi": None, "journal": None, "n_figures": 0, "n_panels": 0, "n_particles": 0, "materials": [],
         "microscopy": [], "statuses": [item.status], "notes": [(item.status, item.reason or "no reason recorded")]}
        for item in data.job_items
    ]
    options = {
        "material": sorted({m for row in rows for m in row["materials"]}, key=str.lower),
        "microscopy": sorted({m for row in rows for m in row["microscopy"]}),
        "status": ["done", "skipped", "failed"],
    }
    n_pages = max(1, math.ceil(len(rows) / rows_per_page))
    page_names = ["index.html", *(f"index-{n}.html" for n in range(2, n_pages + 1))]
    reasons = _reasons(data)
    index_template = environment.get_template("index.html.j2")
    for number, name in enumerate(page_names, start=1):
        html = index_template.render(rows=rows[(number - 1) * rows_per_page : number * rows_per_page], options=options, page=number,
                                     page_names=page_names, n_rows=len(rows), reasons=reasons if number == 1 else None,
                                     n_panels=sum(len(f.panels) for g in data.groups for f in g.figures), version=__version__)
        (out / name).write_text(html, encoding="utf-8")
    n_panels = sum(len(f.panels) for g in data.groups for f in g.figures)
    n_images = sum(1 for path in (out / PAGES_FOLDER).glob("*/*") if path.suffix in (".png", ".jpg"))
    return ReportSummary(out / "index.html", n_pages + len(pages), len(data.groups), n_panels, n_images, time.perf_counter() - started)


def _index_row(group: Group) -> dict:
    article = group.article or {}
    extractions = group.extractions
    notes = list(group.notes) + [(status, f"{f.row['label'] or f.row['locator'] or 'figure'}: {reason}") for f in group.figures for status, reason in f.notes]
    notes += [(e.status, e.row["reason"]) for e in extractions if e.status != "done" and e.row["reason"]]
    return {
        "href": f"articles/{group.key}.html",
        "title": _group_title(group),
        "doi": article.get("doi"),
        "journal": article.get("journal"),
        "n_figures": len(group.figures),
        "n_panels": sum(e.status == "done" for e in extractions),
        "n_particles": sum(int(e.row["n_particles"]) for e in extractions),
        "materials": group.materials,
        "microscopy": group.microscopy,
        "statuses": group.statuses or ["done"],
        "notes": notes,
    }


def _reasons(data: ReportData) -> list[tuple[str, str, int]]:
    """(status, reason, count) of everything failed or skipped, most frequent first."""
    from collections import Counter

    counter: Counter[tuple[str, str]] = Counter()
    for item in data.job_items:
        counter[item.status, item.reason or ""] += 1
    for group in data.groups:
        for status, reason in group.notes:
            counter[status, reason] += 1
        for figure in group.figures:
            for status, reason in figure.notes:
                counter[status, reason] += 1
            for panel in figure.panels:
                if not panel.row["is_micrograph"]:
                    counter["skipped", panel.row["skip_reason"] or "not a micrograph"] += 1
                for extraction in panel.extractions:
                    if extraction.status == "failed":
                        counter["failed", extraction.row["reason"] or ""] += 1
    return [(status, reason, count) for (status, reason), count in counter.most_common()]
