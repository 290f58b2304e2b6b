"""The single-figure pipeline: figure -> panels -> scalebar -> segmentation -> measurements -> store.

``extract(source)`` always returns a list of :class:`ImageResult`, one per panel found (one per
image when ``split=False``), whatever the source (an image file, a directory of image files, or a
numpy array). Every result has a ``status``:

- ``"done"``: a micrograph panel, measured (possibly with zero particles, or without a scale).
- ``"skipped"``: a panel the splitter classified as not a micrograph (a plot, a drawing, a colour
  image); ``reason`` says why, and nothing is measured.
- ``"failed"``: the file could not be read or a stage raised an :class:`~imagedataextractor.errors.IDEError`;
  ``reason`` holds its one-line message. A directory run goes on with the other files.

This is the only module that imports every stage.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ._version import __version__
from .errors import IDEError
from .figsplit.types import Panel
from .scalebar.types import Scalebar
from .segment.predict import BPartISConfig

if TYPE_CHECKING:
    import pandas as pd

    from .figsplit.labels import LabelReading

    from .measure import Histogram, Measurements, RadialDistribution
    from .segment.types import Segmentation
    from .store import Database

log = logging.getLogger(__name__)

Status = Literal["done", "skipped", "failed"]

#: File name endings read in a directory run (other files there are ignored, not failed).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"})


@dataclass(frozen=True, eq=False)
class ImageResult:
    """What the pipeline found in one panel (or one whole image).

    source: the image file's path, or None for an array input. name: a file-system-safe id,
    ``<figure stem>`` or ``<figure stem>_<panel label or 1-based index>`` for a figure with several
    panels (``array`` stands in for the stem of an array input). status / reason: see the module
    docstring. panel: the panel (bbox in figure pixels, label, micrograph classification), None for
    a file that could not be read. scalebar: the scalebar read from the panel (all fields None when
    none was found or ``scalebar=False``). raw_segmentation, measurements: the stage results,
    None unless ``status == "done"``. labels_in_image: panel labels found printed inside the
    micrograph (bbox in panel pixels), blanked before segmentation (see ``mask_labels``).
    """

    source: str | None
    name: str
    status: Status
    reason: str | None = None
    panel: Panel | None = None
    scalebar: Scalebar = field(default_factory=Scalebar)
    raw_segmentation: Segmentation | None = None
    measurements: Measurements | None = None
    labels_in_image: tuple[LabelReading, ...] = ()

    @property
    def image(self) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB pixels of the panel (before the scalebar was blanked), or None."""
        return None if self.panel is None else self.panel.image

    @property
    def nm_per_px(self) -> float | None:
        """Nanometres per pixel from the scalebar; None means every size is in pixels."""
        return self.scalebar.nm_per_px

    @property
    def segmentation(self) -> np.ndarray | None:
        """(H, W) uint16 instance map (0 = background), or None when not segmented."""
        return None if self.raw_segmentation is None else self.raw_segmentation.labels

    @property
    def uncertainty(self) -> np.ndarray | None:
        """(H, W) float32 per-pixel uncertainty (mutual information, nats), or None (e.g. baselines)."""
        return None if self.raw_segmentation is None else self.raw_segmentation.uncertainty

    @property
    def particles(self) -> pd.DataFrame:
        """One row per particle (``*_px`` columns, plus ``*_nm`` ones when the scale is known);
        an empty table when nothing was measured."""
        import pandas as pd

        return pd.DataFrame() if self.measurements is None else self.measurements.particles

    @property
    def size_distribution(self) -> Histogram | None:
        """Histogram of equivalent diameters (nm with a scale, else px), or None when not measured."""
        return None if self.measurements is None else self.measurements.size_histogram

    @property
    def aspect_ratios(self) -> Histogram | None:
        """Histogram of aspect ratios (Feret by default), or None when not measured."""
        return None if self.measurements is None else self.measurements.aspect_ratio_histogram

    @property
    def rdf(self) -> RadialDistribution | None:
        """Radial distribution function of particle centroids, or None (too few particles)."""
        return None if self.measurements is None else self.measurements.rdf

    def to_pandas(self) -> pd.DataFrame:
        """The particle table with ``source``, ``name`` and ``panel_label`` columns in front, for
        concatenating the results of many images."""
        frame = self.particles.copy()
        frame.insert(0, "panel_label", self.panel.label if self.panel else None)
        frame.insert(0, "name", self.name)
        frame.insert(0, "source", self.source)
        return frame

    def to_json(self) -> dict:
        """Everything except pixel arrays and the particle rows, as a JSON-ready dict (``json.dumps``
        works on it): source, name, status, reason, panel, scalebar, segmentation (method and
        settings), summary, size and aspect-ratio histograms, rdf. Particle rows are in
        :meth:`to_pandas` (and ``particles.csv`` of :meth:`save`)."""
        measured = self.measurements
        segmentation = self.raw_segmentation
        return {
            "source": self.source,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "software_version": __version__,
            "panel": None if self.panel is None else self.panel.to_dict(),
            "scalebar": self.scalebar.to_dict(),
            "labels_in_image": [{"label": r.label, "text": r.text, "bbox": list(r.bbox)} for r in self.labels_in_image],
            "units": None if measured is None else ("nm" if self.nm_per_px is not None else "px"),
            "segmentation": None
            if segmentation is None
            else {"method": segmentation.method, "n_instances": segmentation.n_instances, "details": segmentation.details},
            "summary": None if measured is None else measured.summary,
            "size_distribution": None if measured is None else measured.size_histogram.to_dict(),
            "aspect_ratios": None if measured is None else measured.aspect_ratio_histogram.to_dict(),
            "rdf": None if measured is None or measured.rdf is None else measured.rdf.to_dict(),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/<name>/``: summary.json always; for a measured panel also particles.csv,
        overlay.png (instances in colour, scalebar box in red, blanked labels in orange, particle
        ids), size_histogram.png and
        rdf.png (matplotlib). Returns the folder. Raises IDEError when it cannot be written."""
        from . import viz
        from .figsplit.labels import label_mask

        folder = Path(directory) / self.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "summary.json").write_text(json.dumps(self.to_json(), indent=2) + "\n")
            if self.measurements is not None and self.panel is not None:
                self.particles.to_csv(folder / "particles.csv", index=False)
                blanked = label_mask(self.panel.image, list(self.labels_in_image)) if self.labels_in_image else None
                viz.save_overlay(folder / "overlay.png", self.panel.image, self.measurements.particles, self.segmentation, self.scalebar, blanked)
                viz.save_histogram(folder / "size_histogram.png", self.measurements.size_histogram)
                viz.save_rdf(folder / "rdf.png", self.measurements.rdf)
        except OSError as exc:
            raise IDEError(f"{folder}: cannot write results ({exc.strerror or exc})") from None
        return folder


def _image_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def _inputs(source: str | Path | np.ndarray) -> Iterator[tuple[str | None, str, np.ndarray | Path]]:
    """(source path or None, stem, array or path to read) for every image of ``source``."""
    if isinstance(source, np.ndarray):
        yield None, "array", source
        return
    path = Path(source)
    if path.is_dir():
        files = _image_files(path)
        if not files:
            log.warning("%s: no image files (%s)", path, ", ".join(sorted(IMAGE_SUFFIXES)))
        for file in files:
            yield str(file), file.stem, file
    else:
        yield str(path), path.stem, path


def _panel_names(stem: str, panels: list[Panel]) -> list[str]:
    if len(panels) == 1:
        return [stem]
    labels = [panel.label for panel in panels]
    return [
        f"{stem}_{label}" if label and labels.count(label) == 1 else f"{stem}_{index}"
        for index, label in enumerate(labels, start=1)
    ]


def blank_regions(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of ``image`` ((H, W, 3) uint8) with the pixels under ``mask`` ((H, W) bool: a scalebar
    box, labels) inpainted from the surrounding pixels (OpenCV Telea), so that segmentation does
    not count them as particles. Returns ``image`` itself when the mask is empty."""
    import cv2

    if not mask.any():
        return image
    return cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)


def drop_instances_under(segmentation: Segmentation, mask: np.ndarray) -> Segmentation:
    """``segmentation`` without the instances that overlap ``mask`` ((H, W) bool, the blanked
    scalebar and labels): inpainting can leave a label's box as a bright rectangle that models take
    for a particle, and no particle is measurable under a label. Ids are renumbered 1..m in order."""
    from dataclasses import replace

    labels = segmentation.labels
    overlapping = np.unique(labels[mask])
    overlapping = overlapping[overlapping > 0]
    if not len(overlapping):
        return segmentation
    keep = np.ones(int(labels.max()) + 1, bool)
    keep[0] = False
    keep[overlapping] = False
    new_ids = np.zeros(len(keep), labels.dtype)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=labels.dtype)
    scores = None if segmentation.scores is None else segmentation.scores[keep[1:]]
    return replace(segmentation, labels=new_ids[labels], scores=scores)


@dataclass(frozen=True)
class _Settings:
    method: str
    split: bool
    scalebar: bool
    keep_border: bool
    bpartis: BPartISConfig
    mask_labels: bool = True


def _measure_panel(panel: Panel, settings: _Settings) -> tuple[Scalebar, Segmentation, Measurements, tuple[LabelReading, ...]]:
    from .figsplit.labels import label_mask, read_corner_labels
    from .measure import measure
    from .scalebar import read_scalebar, scalebar_mask
    from .segment import segment

    scalebar = read_scalebar(panel.image) if settings.scalebar else Scalebar()
    blanked = scalebar_mask(panel.image.shape, scalebar)
    labels = tuple(read_corner_labels(panel.image)) if settings.mask_labels else ()
    blanked |= label_mask(panel.image, list(labels))
    segmentation = segment(blank_regions(panel.image, blanked), method=settings.method, keep_border=settings.keep_border, bpartis=settings.bpartis)
    segmentation = drop_instances_under(segmentation, blanked)
    measured = measure(segmentation.labels, nm_per_px=scalebar.nm_per_px, uncertainty=segmentation.uncertainty)
    return scalebar, segmentation, measured, labels


def _figure_results(
    source: str | None, stem: str, figure: np.ndarray, settings: _Settings, panels: list[Panel] | None = None
) -> list[ImageResult]:
    """Results for every panel of ``figure``; ``panels`` given (already split, as the article
    pipeline does to decide an uncertain caption) are used instead of splitting again."""
    from .figsplit import split_figure

    if panels is None and settings.split:
        panels = split_figure(figure)
    elif panels is None:
        height, width = figure.shape[:2]
        panels = [Panel((0, 0, width, height), None, True, None, figure)]
    results = []
    for name, panel in zip(_panel_names(stem, panels), panels):
        if not panel.is_micrograph:
            log.info("%s: skipped, %s", name, panel.reason)
            results.append(ImageResult(source, name, "skipped", panel.reason, panel))
            continue
        try:
            scalebar, segmentation, measured, labels = _measure_panel(panel, settings)
        except IDEError as exc:
            log.warning("%s: failed, %s", name, exc)
            results.append(ImageResult(source, name, "failed", str(exc), panel))
            continue
        if scalebar.nm_per_px is None:
            log.info("%s: no readable scalebar, sizes are in pixels", name)
        results.append(ImageResult(source, name, "done", None, panel, scalebar, segmentation, measured, labels))
    return results


def _provenance_fields(result: ImageResult, settings: _Settings) -> dict:
    """Method, model and every option that changes the result, for :class:`~imagedataextractor.store.Provenance`."""
    details = dict(result.raw_segmentation.details) if result.raw_segmentation is not None else {}
    details.pop("seconds", None)
    model_name = details.pop("model", None)
    model_version = details.pop("model_version", None)
    tu = details.pop("tu", None)
    samples = details.pop("n_samples", None)
    options = {"split": settings.split, "scalebar": settings.scalebar, "keep_border": settings.keep_border, "mask_labels": settings.mask_labels}
    if result.raw_segmentation is None and settings.method.startswith("bpartis"):
        config = settings.bpartis
        model_name, tu, samples = config.model, config.tu, config.n_samples
        options.update(seed=config.seed, precision=config.precision, flips=config.flips)
    return {
        "method": settings.method,
        "model_name": model_name,
        "model_version": model_version,
        "tu": tu,
        "samples": samples,
        "settings": {**details, **options},
    }


def _store(
    db: Database,
    figure: np.ndarray,
    results: list[ImageResult],
    settings: _Settings,
    *,
    figure_id: int | None = None,
    doi: str | None = None,
    locator: str | None = None,
) -> None:
    """Save every panel result of one figure. ``figure_id``: the figure's row when the caller
    already upserted it (a figure of an article, keyed by ``doi`` and ``locator``); otherwise the
    figure is keyed by its source path."""
    from .store import DistributionRecord, ImageRecord, Provenance, RdfRecord, ScalebarRecord, pixel_sha256

    source = results[0].source
    if figure_id is None:
        figure_sha = pixel_sha256(figure)
        figure_id = db.upsert_figure(source=source or f"array:{figure_sha}", sha256=figure_sha, is_em=any(r.status != "skipped" for r in results))
    for result in results:
        panel = result.panel
        assert panel is not None  # results of a read figure always carry their panel
        provenance = Provenance(
            **_provenance_fields(result, settings), source=source, doi=doi, figure_locator=locator, status=result.status, reason=result.reason
        )
        bar = result.scalebar
        scalebar = None
        if bar.found:
            scalebar = ScalebarRecord(bar.text, bar.value, bar.unit, bar.length_px, bar.nm_per_px, bar.box_bbox or bar.bar_bbox)
        distributions: list[DistributionRecord] = []
        rdf = None
        measured = result.measurements
        if measured is not None:
            for histogram in (measured.size_histogram, measured.aspect_ratio_histogram):
                column = histogram.quantity if histogram.unit is None else f"{histogram.quantity}_{histogram.unit}"
                values = measured.particles[column] if column in measured.particles else None
                counted = values.dropna() if values is not None else None
                distributions.append(
                    DistributionRecord(
                        kind=column,
                        bin_edges=[float(e) for e in histogram.bin_edges],
                        counts=[int(c) for c in histogram.counts],
                        mean=_finite(counted.mean()) if counted is not None and len(counted) else None,
                        median=_finite(counted.median()) if counted is not None and len(counted) else None,
                        std=_finite(counted.std(ddof=1)) if counted is not None and len(counted) > 1 else None,
                    )
                )
            if measured.rdf is not None:
                in_nm = measured.rdf.radii_nm is not None
                radii = measured.rdf.radii_nm if in_nm else measured.rdf.radii_px
                dr = measured.rdf.dr_px * (result.nm_per_px or 1.0)
                rdf = RdfRecord([float(r) for r in radii], [float(g) for g in measured.rdf.g_r], "nm" if in_nm else "px", dr, measured.rdf.n_points)
        height, width = panel.image.shape[:2]
        db.save_image_result(
            ImageRecord(
                sha256=pixel_sha256(panel.image),
                width_px=width,
                height_px=height,
                provenance=provenance,
                figure_id=figure_id,
                bbox_px=panel.bbox,
                label=panel.label,
                is_micrograph=panel.is_micrograph,
                skip_reason=panel.reason,
                scalebar=scalebar,
                particles=measured.particles if measured is not None else None,
                distributions=distributions,
                rdf=rdf,
            )
        )


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def extract(
    source: str | Path | np.ndarray,
    *,
    method: str = "bpartis",
    split: bool = True,
    scalebar: bool = True,
    db: str | Path | Database | None = None,
    keep_border: bool = False,
    mask_labels: bool = True,
    bpartis: BPartISConfig = BPartISConfig(),
    progress: bool = False,
) -> list[ImageResult]:
    """Extract particle statistics from a figure, a directory of figures, or an image array.

    Parameters
    ----------
    source : path of an image file, path of a directory (its image files, sorted, not recursive),
        or an (H, W), (H, W, 3) or (H, W, 4) array.
    method : segmentation method (:data:`imagedataextractor.segment.METHODS`).
    split : split the figure into panels and skip the non-micrograph ones; False treats the whole
        image as one micrograph.
    scalebar : read the scalebar for nm per pixel; False (or no readable bar) gives pixel units,
        stated by ``nm_per_px is None``. A found bar and its label are inpainted before
        segmentation so they are not counted as particles.
    db : a database (path, SQLAlchemy URL, or an open :class:`~imagedataextractor.store.Database`)
        to save every result in; rerunning with the same settings replaces the earlier rows.
        A file that cannot be read is marked failed in the ``jobs`` table (job ``"extract"``).
    keep_border : keep particles that touch the panel border.
    mask_labels : find panel labels printed in the micrograph's corners (the figure's own, and
        those of the source article's figure it was cut from) and inpaint them, with the box behind
        them, before segmentation; particles overlapping them are dropped.
    bpartis : BPartIS settings (model, samples, tu, seed, precision).
    progress : show a tqdm progress bar over the input images.

    Returns
    -------
    list[ImageResult]
        One per panel (``status`` "done", "skipped" or "failed"); a file that could not be read
        gives one "failed" result with ``panel`` None.

    Example
    -------
    >>> import numpy as np
    >>> from skimage.draw import disk
    >>> image = np.full((128, 128), 40, np.uint8)
    >>> image[disk((64, 64), 15)] = 220
    >>> [result] = extract(image, method="watershed", split=False, scalebar=False)
    >>> result.status, len(result.particles), result.nm_per_px
    ('done', 1, None)
    """
    from .imageio import as_rgb, read_image
    from .store import Database, open_db

    settings = _Settings(method, split, scalebar, keep_border, bpartis, mask_labels)
    inputs = list(_inputs(source))
    if progress:
        from tqdm import tqdm

        inputs = tqdm(inputs, desc="extract", unit="image")
    database = db if isinstance(db, Database) or db is None else open_db(db)
    results: list[ImageResult] = []
    try:
        for path, stem, item in inputs:
            try:
                figure = as_rgb(item) if isinstance(item, np.ndarray) else read_image(item)
            except IDEError as exc:
                log.warning("%s: failed, %s", path or stem, exc)
                results.append(ImageResult(path, stem, "failed", str(exc)))
                if database is not None and path is not None:
                    database.mark(path, "failed", str(exc), job="extract")
                continue
            figure_results = _figure_results(path, stem, figure, settings)
            results.extend(figure_results)
            if database is not None:
                _store(database, figure, figure_results, settings)
                if path is not None:
                    failed = [r for r in figure_results if r.status == "failed"]
                    database.mark(path, "failed" if failed else "done", failed[0].reason if failed else None, job="extract")
    finally:
        if database is not None and database is not db:
            database.close()
    return results
