"""The single-figure pipeline: figure -> panels -> scalebar -> segmentation -> measurements -> store.

``extract(source)`` always returns a list of :class:`ImageResult`, one per panel found (one per
image when ``split=False``), whatever the source (an image file, a directory of image files, or a
numpy array). Every result has a ``status``:

- ``"done"``: a micrograph panel, measured (possibly with zero particles, or without a scale).
- ``"skipped"``: a panel the splitter classified as not a micrograph (a plot, a drawing, a colour
  image); ``reason`` says why, and nothing is measured.
- ``"failed"``: the file could not be read or a stage raised an :class:`~imagedataextractor.errors.IDEError`;
  ``reason`` holds its one-line message. A directory run goes on with the other files.

:func:`extract_figure` is the one runner: ``extract`` (images), ``extract_articles`` (articles,
:mod:`imagedataextractor.literature`) and ``dataset build`` call it, and store what it returns
through the one adapter (:mod:`imagedataextractor.persistence`). This is the only module that
runs every stage.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .version import __version__
from .errors import IDEError, SettingsError
from .figsplit.types import Panel
from .progress import FigureProgress, wanted
from .scalebar.types import Scalebar
from .settings import ExtractSettings
from .status import Status

if TYPE_CHECKING:
    import pandas as pd

    from .figsplit.labels import LabelReading
    from .measure import Histogram, Measurements, RadialDistribution
    from .segment.types import Segmentation
    from .store import Database

log = logging.getLogger(__name__)

#: The reason of an image a resumed run does not extract again.
ALREADY_EXTRACTED = "already extracted"
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
    None unless ``status == "done"`` (and None then too when the settings' method is None).
    labels_in_image: panel labels found printed inside the micrograph (bbox in panel pixels),
    blanked before segmentation (see ``mask_labels``); labels_mask: (H, W) bool, the pixels of
    those labels that were blanked, or None.
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
    labels_mask: np.ndarray | None = field(default=None, repr=False)

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

        folder = Path(directory) / self.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "summary.json").write_text(json.dumps(self.to_json(), indent=2) + "\n")
            if self.measurements is not None and self.panel is not None and self.segmentation is not None:
                self.particles.to_csv(folder / "particles.csv", index=False)
                blanked = self.labels_mask if self.labels_in_image else None
                viz.save_overlay(folder / "overlay.png", self.panel.image, self.measurements.particles, self.segmentation, self.scalebar, blanked)
                viz.save_histogram(folder / "size_histogram.png", self.measurements.size_histogram)
                viz.save_rdf(folder / "rdf.png", self.measurements.rdf, n_particles=len(self.particles))
        except OSError as exc:
            raise IDEError(f"{folder}: cannot write results ({exc.strerror or exc})") from None
        return folder


def _image_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def _output_stem(path: Path) -> str:
    """The name of an image file's results (folder ``OUT/<stem>[_<panel>]``): its stem, with a
    leading dot made "_" (``...png`` has the stem "..", which would name the folder above), and
    with its suffix added ("x_jpg") when another image file of its folder has the same stem or the
    stem is the review site's pages folder (``ide extract`` writes the site into ``OUT`` too)."""
    from .report import PAGES_FOLDER

    stem = re.sub(r"^\.+", lambda dots: "_" * len(dots.group()), path.stem) or "_"
    siblings = _image_files(path.parent) if path.parent.is_dir() else []
    if stem.lower() == PAGES_FOLDER or any(other.stem == path.stem and other.name != path.name for other in siblings):
        stem = f"{stem}_{path.suffix.lstrip('.').lower()}"
    return stem


def _inputs(source: str | Path | np.ndarray) -> Iterator[tuple[str | None, str, np.ndarray | Path]]:
    """(source or None, stem, array or path to read) for every image of ``source``; the source of
    a file is its canonical path (resolved: absolute, no symlinks), its key in the store."""
    if isinstance(source, np.ndarray):
        yield None, "array", source
        return
    path = Path(source)
    if path.is_dir():
        files = _image_files(path)
        if not files:
            log.warning("%s: no image files (%s)", path, ", ".join(sorted(IMAGE_SUFFIXES)))
        for file in files:
            yield str(file.resolve()), _output_stem(file), file
    else:
        yield str(path.resolve()), _output_stem(path), path


def _panel_names(stem: str, panels: list[Panel]) -> list[str]:
    if len(panels) == 1:
        return [stem]
    labels = [panel.label for panel in panels]
    return [
        f"{stem}_{label}" if label and labels.count(label) == 1 else f"{stem}_{index}"
        for index, label in enumerate(labels, start=1)
    ]


def figure_panels(figure: np.ndarray, settings: ExtractSettings, *, classify: bool = False) -> list[Panel]:
    """The panels of ``figure`` ((H, W, 3) uint8 RGB) to run: the split figure
    (``settings.split``), else the whole image as one panel, a micrograph unless ``classify`` asks
    the panel classifier (the article run does, when the caption does not settle it)."""
    from .figsplit import split_figure
    from .figsplit.classify import classify_panel

    if settings.split:
        return split_figure(figure, config=settings.split_config)
    height, width = figure.shape[:2]
    is_micrograph, reason = classify_panel(figure, config=settings.split_config) if classify else (True, None)
    return [Panel((0, 0, width, height), None, is_micrograph, reason, figure)]


def _segmenting(name: str, settings: ExtractSettings) -> str:
    """The stage text of segmenting panel ``name``: the method, and T for Bayesian BPartIS."""
    bpartis = settings.bpartis
    if settings.method == "bpartis" and bpartis.mode == "bayesian":
        how = f"bpartis, T={bpartis.n_samples}" if bpartis.n_samples is not None else "bpartis, T from the model"
    else:
        how = str(settings.method)
    return f"segmenting {name} ({how})"


def _measure_panel(name: str, source: str | None, panel: Panel, settings: ExtractSettings, progress: FigureProgress | None) -> ImageResult:
    """Scalebar, label masking, segmentation and measurement of one micrograph panel; each
    stage runs once (the labels found are kept in the result for its overlay)."""
    from .figsplit.labels import label_mask, read_corner_labels
    from .measure import measure, scale_relative_sd
    from .scalebar import read_scalebar, scalebar_mask
    from .segment import segment
    from .segment.masking import blank_regions, drop_instances_under

    stage = progress.stage if progress is not None else lambda text: None
    stage(f"reading scalebar of {name}")
    scalebar = read_scalebar(panel.image, config=settings.scalebar_config) if settings.scalebar else Scalebar()
    if settings.method is None:
        return ImageResult(source, name, "done", None, panel, scalebar)
    stage(f"finding labels in {name}")
    labels = tuple(read_corner_labels(panel.image, config=settings.split_config)) if settings.mask_labels else ()
    labels_mask = label_mask(panel.image, list(labels)) if labels else None
    blanked = scalebar_mask(panel.image.shape, scalebar)
    if labels_mask is not None:
        blanked |= labels_mask
    stage(_segmenting(name, settings))
    segmentation = segment(blank_regions(panel.image, blanked), method=settings.method, keep_border=settings.keep_border, bpartis=settings.bpartis)
    segmentation = drop_instances_under(segmentation, blanked)
    stage(f"measuring {name}")
    measured = measure(segmentation.labels, nm_per_px=scalebar.nm_per_px, uncertainty=segmentation.uncertainty,
                       foreground_fraction=segmentation.foreground_fraction,
                       scale_rel_sd=scale_relative_sd(scalebar.length_px, scalebar.length_sd_px),
                       systematic_rel_sd=segmentation.details.get("systematic_rel_sd", 0.0), config=settings.measure)
    if scalebar.nm_per_px is None:
        log.info("%s: no readable scalebar, sizes are in pixels", name)
    return ImageResult(source, name, "done", None, panel, scalebar, segmentation, measured, labels, labels_mask)


def extract_figure(
    figure: np.ndarray,
    settings: ExtractSettings = ExtractSettings(),
    panels: list[Panel] | None = None,
    *,
    source: str | None = None,
    stem: str = "figure",
    progress: FigureProgress | None = None,
) -> list[ImageResult]:
    """Run every stage on one figure: the one runner.

    Parameters
    ----------
    figure : (H, W, 3) uint8 RGB figure.
    settings : :class:`~imagedataextractor.settings.ExtractSettings` (validated when made).
    panels : the figure's panels when the caller has them already (the article run splits first to
        decide an uncertain caption); None splits (or not) as ``settings`` say (:func:`figure_panels`).
    source : the figure's file path or URL, recorded in every result; stem : the results' name
        (``<stem>`` or ``<stem>_<panel label or index>``, see :class:`ImageResult`).
    progress : bars to count the panels on and say the stage in (splitting, reading scalebar,
        segmenting, measuring), or None.

    Returns
    -------
    list[ImageResult]
        One per panel, in reading order: "done" (measured; only split and classified when
        ``settings.method`` is None), "skipped" (not a micrograph) or "failed" (a stage raised an
        :class:`~imagedataextractor.errors.IDEError`, its message in ``reason``).
    """
    if panels is None:
        if progress is not None:
            progress.stage(f"splitting {stem}" if settings.split else f"reading {stem}")
        panels = figure_panels(figure, settings)
    if progress is not None:
        progress.add_panels(len(panels))
    results = []
    for name, panel in zip(_panel_names(stem, panels), panels):
        if not panel.is_micrograph:
            log.info("%s: skipped, %s", name, panel.reason)
            results.append(ImageResult(source, name, "skipped", panel.reason, panel))
        else:
            try:
                results.append(_measure_panel(name, source, panel, settings, progress))
            except IDEError as exc:
                log.warning("%s: failed, %s", name, exc)
                results.append(ImageResult(source, name, "failed", str(exc), panel))
        if progress is not None:
            progress.panel_done()
    return results


def extract(
    source: str | Path | np.ndarray,
    settings: ExtractSettings | None = None,
    *,
    db: str | Path | Database | None = None,
    out: str | Path | None = None,
    progress: bool | None = None,
    **options: Any,
) -> list[ImageResult]:
    """Extract particle statistics from a figure, a directory of figures, or an image array.

    Parameters
    ----------
    source : path of an image file, path of a directory (its image files, sorted, not recursive),
        or an (H, W), (H, W, 3) or (H, W, 4) array.
    settings : :class:`~imagedataextractor.settings.ExtractSettings`; default: its defaults.
    db : a database (path, SQLAlchemy URL, or an open :class:`~imagedataextractor.store.Database`)
        to save every result in, one transaction per image. Resume: each image file is marked in
        the ``jobs`` table (job ``images:<method>:<settings key>``, item ``<resolved path>
        <pixel sha256>``) once its results are stored (and written to ``out``); a rerun with the
        same settings does not extract a marked image again (its one result is "skipped",
        reason :data:`ALREADY_EXTRACTED`). Failed and unreadable files are tried again.
    out : write each result's folder (:meth:`ImageResult.save`) here as soon as its image is done.
    progress : tqdm bars on stderr over the images and their panels, with the stage each panel is
        in (splitting, reading scalebar, segmenting, measuring); None: on when stderr is a terminal.
    options : fields of :class:`~imagedataextractor.settings.ExtractSettings` replacing those of
        ``settings``: ``method`` (:data:`imagedataextractor.segment.METHODS`), ``split`` (False
        treats the whole image as one micrograph), ``scalebar`` (False: pixel units, stated by
        ``nm_per_px is None``), ``keep_border``, ``mask_labels`` (find panel labels printed in
        the micrograph's corners, inpaint them before segmentation, drop particles under them),
        ``bpartis`` (:class:`~imagedataextractor.segment.BPartISConfig`), ``measure``,
        ``split_config``, ``scalebar_config``.

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
    from .persistence import save_figure
    from .store import Database, open_db, pixel_sha256

    settings = with_options(settings or ExtractSettings(), options)
    inputs = list(_inputs(source))
    job = f"images:{settings.method}:{settings.key()}"
    database = db if isinstance(db, Database) or db is None else open_db(db)
    results: list[ImageResult] = []
    with ExitStack() as stack:
        if database is not None and database is not db:
            stack.callback(database.close)
        bars = FigureProgress(stack, wanted(progress), len(inputs), desc="images" if isinstance(source, np.ndarray) else Path(source).name)
        for path, stem, item in inputs:
            try:
                figure = as_rgb(item) if isinstance(item, np.ndarray) else read_image(item)
            except IDEError as exc:
                log.warning("%s: failed, %s", path or stem, exc)
                results.append(ImageResult(path, stem, "failed", str(exc)))
                if database is not None and path is not None:
                    database.mark(path, "failed", str(exc), job=job)
                bars.image_done()
                continue
            job_item = None if path is None else f"{path} {pixel_sha256(figure)}"
            if database is not None and job_item is not None and database.status(job_item, job=job) == "done":
                log.info("%s: %s", path, ALREADY_EXTRACTED)
                results.append(ImageResult(path, stem, "skipped", ALREADY_EXTRACTED))
                bars.image_done()
                continue
            figure_results = extract_figure(figure, settings, source=path, stem=stem, progress=bars)
            results.extend(figure_results)
            if out is not None:
                bars.stage(f"writing results of {stem}")
                for result in figure_results:
                    result.save(out)
            if database is not None:
                bars.stage(f"storing {stem}")
                save_figure(database, figure, figure_results, settings)
                if job_item is not None:  # after its results are committed and written
                    failed = [r for r in figure_results if r.status == "failed"]
                    database.mark(job_item, "failed" if failed else "done", failed[0].reason if failed else None, job=job)
            bars.image_done()
    return results


def with_options(settings: ExtractSettings, options: Mapping[str, Any]) -> ExtractSettings:
    """``settings`` with some fields replaced (validated again); an unknown name is a SettingsError."""
    unknown = sorted(set(options) - {f.name for f in fields(ExtractSettings)})
    if unknown:
        raise SettingsError(f"{', '.join(unknown)}: not a setting (see ExtractSettings)")
    return replace(settings, **options) if options else settings
