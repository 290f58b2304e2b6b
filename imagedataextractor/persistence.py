"""The one persistence adapter: the runner's results (:class:`~imagedataextractor.pipeline.ImageResult`)
and what is known of their figure and article, turned into the store's records and saved.

``extract`` (images), ``extract_articles`` (articles) and ``dataset build`` all save through
:func:`save_figure` and :func:`save_article`, so every column has one meaning whoever writes it:

- ``figures.sha256`` and ``panels.sha256`` are :func:`~imagedataextractor.store.pixel_sha256` of
  the pixels (the same image read from another file format or path has the same hash);
- a figure and all its panels are written in one transaction, once per run of the figure;
- the settings hash is :meth:`~imagedataextractor.store.Provenance.settings_sha256`, one function
  (:func:`~imagedataextractor.store.records.settings_sha256`) with the jobs' settings key;
- ``extractions.uncertainty_png`` is :func:`uncertainty_png` of the panel's uncertainty, and
  ``extractions.masked_label_boxes`` the boxes of the labels blanked before segmentation;
- a distribution row's n, mean, median and std are those of ``measure``'s histogram, i.e. of the
  particles the summary and the histogram count (border particles only with ``include_border``),
  and its interval columns that histogram's confidence intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .settings import ExtractSettings
from .store.schema import UNCERTAINTY_MAX_NATS, UNCERTAINTY_MAX_SIDE_PX
from .store.records import DistributionRecord, FigureRecord, ImageRecord, Provenance, RdfRecord, ScalebarRecord, pixel_sha256

if TYPE_CHECKING:
    import numpy as np

    from .measure import Histogram
    from .pipeline import ImageResult
    from .store import Database


@dataclass(frozen=True)
class FigureInfo:
    """What is known of a figure besides its pixels: its article's ``doi`` and its ``locator``
    ("gr1"), or neither for an image on its own; its image file's path or URL (``source``); the
    printed ``label`` ("Fig. 2"), ``caption``, the ``microscopy`` techniques and ``materials`` the
    caption names, and whether it shows electron micrographs (``is_em``, None when undecided)."""

    doi: str | None = None
    locator: str | None = None
    source: str | None = None
    label: str | None = None
    caption: str | None = None
    microscopy: tuple[str, ...] | None = None
    materials: tuple[str, ...] | None = None
    is_em: bool | None = None


@dataclass(frozen=True)
class ArticleInfo:
    """An article's row: ``doi`` and what its file says of it; ``source`` is where it came from
    (a publisher API name, or the file's path)."""

    doi: str
    title: str | None = None
    journal: str | None = None
    publisher: str | None = None
    licence: str | None = None
    source: str | None = None


def save_article(db: Database, article: ArticleInfo) -> int:
    """Insert or update the article's row; return its id."""
    return db.upsert_article(
        article.doi, title=article.title, journal=article.journal, publisher=article.publisher, licence=article.licence, source=article.source
    )


@dataclass(frozen=True)
class FigureRows:
    """A figure's row and its panels' rows, ready to store (:func:`save_figure_rows`): what a
    cluster worker sends back to the one writer when it does not write itself."""

    figure: FigureRecord
    images: list[ImageRecord]


def figure_rows(
    figure: np.ndarray | None,
    results: Sequence[ImageResult] = (),
    settings: ExtractSettings | None = None,
    info: FigureInfo = FigureInfo(),
) -> FigureRows:
    """The rows :func:`save_figure` stores (same arguments)."""
    figure_sha = None if figure is None else pixel_sha256(figure)
    source = info.source or (results[0].source if results else None)
    if info.doi is None and source is None:
        source = f"array:{figure_sha}"
    is_em = info.is_em if info.is_em is not None or not results else any(r.status != "skipped" for r in results)
    record = FigureRecord(
        doi=info.doi, locator=info.locator, source=source, label=info.label, caption=info.caption, sha256=figure_sha,
        microscopy=info.microscopy, materials=info.materials, is_em=is_em,
    )
    if results and settings is None:
        raise TypeError("save_figure: results need the settings they were run with")
    images = [image_record(result, settings, info) for result in results] if settings is not None else []
    return FigureRows(record, images)


def save_figure_rows(db: Database, rows: FigureRows) -> int:
    """Save a figure's row and its panels' rows in one transaction; return the figure's id."""
    return db.save_figure(rows.figure, rows.images)


def save_figure(
    db: Database,
    figure: np.ndarray | None,
    results: Sequence[ImageResult] = (),
    settings: ExtractSettings | None = None,
    info: FigureInfo = FigureInfo(),
) -> int:
    """Save a figure's row and its panels' results in one transaction; return the figure's id.

    figure: the figure's (H, W, 3) pixels (for its sha256), or None when it was not read.
    results: :func:`~imagedataextractor.pipeline.extract_figure`'s results for it, run with
    ``settings`` (required with results). info: see :class:`FigureInfo`; a figure without a DOI is
    keyed by ``info.source``, else by the results' source, else by its pixels' hash ("array:<sha256>").
    ``is_em``, when ``info`` leaves it None and there are results, is whether a panel was not skipped.
    """
    return save_figure_rows(db, figure_rows(figure, results, settings, info))


def image_record(result: ImageResult, settings: ExtractSettings, info: FigureInfo = FigureInfo()) -> ImageRecord:
    """The store's record of one panel result (``result.panel`` must be set: a read figure's)."""
    panel = result.panel
    if panel is None:
        raise TypeError(f"{result.name}: a result without a panel (an unread file) has no image to store")
    bar = result.scalebar
    scalebar = ScalebarRecord(bar.text, bar.value, bar.unit, bar.length_px, bar.nm_per_px, bar.box_bbox or bar.bar_bbox, bar.length_sd_px) if bar.found else None
    measured = result.measurements
    distributions: list[DistributionRecord] = []
    rdf = None
    if measured is not None:
        distributions = [_distribution(h) for h in (measured.size_histogram, measured.aspect_ratio_histogram)]
        if measured.rdf is not None:
            in_nm = measured.rdf.radii_nm is not None
            radii = measured.rdf.radii_nm if in_nm else measured.rdf.radii_px
            assert radii is not None  # radii_nm is set exactly when in_nm
            dr = measured.rdf.dr_px * (result.nm_per_px or 1.0)
            rdf = RdfRecord([float(r) for r in radii], [float(g) for g in measured.rdf.g_r], "nm" if in_nm else "px", dr, measured.rdf.n_points)
    height, width = panel.image.shape[:2]
    return ImageRecord(
        sha256=pixel_sha256(panel.image),
        width_px=width,
        height_px=height,
        provenance=Provenance(**_provenance_fields(result, settings), source=result.source, doi=info.doi, figure_locator=info.locator,
                              status=result.status, reason=result.reason),
        bbox_px=panel.bbox,
        label=panel.label,
        is_micrograph=panel.is_micrograph,
        skip_reason=panel.reason,
        confidence=panel.confidence,
        scalebar=scalebar,
        particles=measured.particles if measured is not None else None,
        distributions=distributions,
        rdf=rdf,
        uncertainty_png=None if result.uncertainty is None else uncertainty_png(result.uncertainty),
        # Labels are looked for and blanked only where a segmentation ran; elsewhere nothing is known.
        masked_label_boxes=None if result.raw_segmentation is None else [reading.bbox for reading in result.labels_in_image],
    )


def uncertainty_png(uncertainty: np.ndarray) -> bytes:
    """An (H, W) float uncertainty map (mutual information, nats) as a grey 8-bit PNG: 0..255 is
    0..:data:`~imagedataextractor.store.schema.UNCERTAINTY_MAX_NATS` (ln 2; above it clipped),
    shrunk (area-averaged) to at most :data:`~imagedataextractor.store.schema.UNCERTAINTY_MAX_SIDE_PX`
    pixels on its long side, aspect ratio kept."""
    import io

    import numpy as np
    from PIL import Image

    grey = np.round(np.clip(np.nan_to_num(uncertainty) / UNCERTAINTY_MAX_NATS, 0, 1) * 255).astype(np.uint8)
    picture = Image.fromarray(grey)
    height, width = grey.shape
    scale = UNCERTAINTY_MAX_SIDE_PX / max(height, width)
    if scale < 1:
        picture = picture.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _distribution(histogram: Histogram) -> DistributionRecord:
    """A histogram as stored: ``kind`` is its particle column ("diameter_nm", "aspect_ratio_feret")."""
    kind = histogram.quantity if histogram.unit is None else f"{histogram.quantity}_{histogram.unit}"
    ci = histogram.interval
    return DistributionRecord(
        kind=kind,
        bin_edges=[float(e) for e in histogram.bin_edges],
        counts=[int(c) for c in histogram.counts],
        mean=histogram.mean,
        median=histogram.median,
        std=histogram.std,
        n=histogram.n,
        interval_level=None if ci is None else ci.level,
        mean_low=None if ci is None else ci.mean_low,
        mean_high=None if ci is None else ci.mean_high,
        median_low=None if ci is None else ci.median_low,
        median_high=None if ci is None else ci.median_high,
        counts_low=None if ci is None else [float(c) for c in ci.counts_low],
        counts_high=None if ci is None else [float(c) for c in ci.counts_high],
        systematic_rel_sd=None if ci is None else ci.systematic_rel_sd,
    )


def _provenance_fields(result: ImageResult, settings: ExtractSettings) -> dict[str, Any]:
    """Method, model and every option that changes the result, for :class:`~imagedataextractor.store.Provenance`:
    the segmentation's own account (its ``details``) where it ran, else the settings'."""
    details = dict(result.raw_segmentation.details) if result.raw_segmentation is not None else {}
    details.pop("seconds", None)  # how long it took is not a setting
    model_name = details.pop("model", None)
    model_version = details.pop("model_version", None)
    tu = details.pop("tu", None)
    samples = details.pop("n_samples", None)
    options: dict[str, Any] = {"split": settings.split, "scalebar": settings.scalebar, "keep_border": settings.keep_border, "mask_labels": settings.mask_labels}
    method = settings.method or "none"
    if result.raw_segmentation is None and method.startswith("bpartis"):
        config = settings.bpartis
        model_name, tu, samples = config.model, config.tu, config.n_samples
        options.update(seed=config.seed, precision=config.precision, flips=config.flips)
    fingerprint = settings.fingerprint()
    for name in ("split_config", "scalebar_config", "measure"):  # only when not the defaults, so earlier keys stay valid
        if name in fingerprint:
            options[name] = fingerprint[name]
    return {"method": method, "model_name": model_name, "model_version": model_version, "tu": tu, "samples": samples, "settings": {**details, **options}}
