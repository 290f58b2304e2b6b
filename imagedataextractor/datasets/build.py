"""Building an EMPS-style dataset from DOIs: harvest, parse, split, keep micrographs, de-duplicate,
and write images, metadata and a VIA 2 project ready for annotation.

Output (``out_dir``)::

    images/<stem>.png     one micrograph panel each, RGB PNG at the figure's resolution
    metadata.csv          filename, doi, locator, regions ("[]"), then panel, panel_label, bbox_px,
                          microscopy, caption, source_url, licence
    via_project.json      VIA 2 project listing every image with no regions (open it in VIA,
                          draw the particle outlines, save, then ``ide dataset import-via``)

Stems are ``<doi with "." for the first "/">.<locator>-<k>`` (k: the panel's 1-based index in
reading order), escaped like corpus file names, so that EMPS's ``<doi>.<locator>`` naming still
tells a file's DOI and figure.

Which panels are kept: every figure of every harvested article is split into panels by the runner
(:func:`imagedataextractor.pipeline.extract_figure`, with :data:`SPLIT_ONLY`: nothing is segmented),
and the panels classified as micrographs are kept, whether or not
the caption names electron microscopy (captions miss some; ``microscopy`` says what the caption
named). Near-duplicates (a figure reused in another article, or the same panel twice) are dropped:
two panels are duplicates when the Hamming distance of their 64-bit perceptual hashes
(``imagehash.phash``, DCT of the 32 x 32 greyscale thumbnail) is at most
:data:`PHASH_MAX_DISTANCE` bits; the first one met (DOI-list order) is kept. On the 14 micrographs
of the demo corpus, a copy scaled to 60 % and saved as JPEG quality 60 is 0 bits from its original,
while distinct micrographs are 20-32 bits apart (minimum, median of the 91 pairs).

Rebuilding into the same folder (after adding DOIs, say) replaces ``metadata.csv`` and the VIA
project and removes the PNGs in ``images/`` that this build did not write (panels of DOIs no longer
listed, or now dropped as duplicates), so ``images/`` and ``metadata.csv`` always list the same
files. A folder that already holds instance maps (``segmaps/``, i.e. annotations were imported into
it) is refused: replacing its ``metadata.csv`` would drop the annotated regions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..doi import emps_stem
from ..document.corpus import article_file
from ..errors import DatasetError, IDEError
from ..imageio import read_image
from ..settings import ExtractSettings
from .layout import IMAGES, METADATA, METADATA_COLUMNS, SEGMAPS, list_stems, with_progress

if TYPE_CHECKING:
    from ..document import Article
    from ..harvest import HarvestConfig

log = logging.getLogger(__name__)

#: Largest Hamming distance (bits, of 64) between perceptual hashes of two panels that are duplicates.
PHASH_MAX_DISTANCE = 6
VIA_PROJECT = "via_project.json"
#: Columns written after the EMPS ones (:data:`METADATA_COLUMNS`).
EXTRA_COLUMNS = ("panel", "panel_label", "bbox_px", "microscopy", "caption", "source_url", "licence")
#: The VIA release whose project format is written (``_via_data_format_version``).
VIA_FORMAT_VERSION = "2.0.10"
#: The runner's settings for a build: split and classify the panels; no scalebar, labels or segmentation.
SPLIT_ONLY = ExtractSettings(method=None, scalebar=False, mask_labels=False)


@dataclass(frozen=True)
class BuildFailure:
    """One article or figure that could not be used. item: a DOI, or ``<doi> <locator>``."""

    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


@dataclass(frozen=True)
class DatasetImage:
    """One written image: a micrograph panel of a figure.

    bbox_px: (x0, y0, x1, y1) of the panel in the figure's pixels, end exclusive.
    """

    filename: str
    doi: str
    locator: str
    panel: int
    panel_label: str | None
    bbox_px: tuple[int, int, int, int]
    microscopy: tuple[str, ...]
    caption: str
    source_url: str | None
    licence: str | None
    size_bytes: int

    def to_row(self) -> dict[str, Any]:
        """The ``metadata.csv`` row (EMPS columns first; regions empty until annotated)."""
        return {
            "filename": self.filename,
            "doi": self.doi,
            "locator": self.locator,
            "regions": "[]",
            "panel": self.panel,
            "panel_label": self.panel_label or "",
            "bbox_px": json.dumps(list(self.bbox_px)),
            "microscopy": " ".join(self.microscopy),
            "caption": self.caption,
            "source_url": self.source_url or "",
            "licence": self.licence or "",
        }


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build_dataset` did.

    n_articles: articles parsed; n_figures: their figures; n_em_figures: those whose caption names
    electron microscopy; n_panels: panels of all figures split; n_micrographs: panels classified as
    micrographs; n_duplicates: micrographs dropped as near-duplicates of one already kept;
    images: the written images (``n_written`` of them); failures: articles and figures not used;
    removed: file names of stale images of an earlier build into the same folder, deleted.
    """

    out_dir: Path
    n_dois: int
    n_articles: int
    n_figures: int
    n_em_figures: int
    n_panels: int
    n_micrographs: int
    n_duplicates: int
    images: tuple[DatasetImage, ...]
    failures: tuple[BuildFailure, ...]
    removed: tuple[str, ...] = ()

    @property
    def n_written(self) -> int:
        return len(self.images)

    @property
    def ok(self) -> bool:
        """True when no article or figure failed."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "n_dois": self.n_dois,
            "n_articles": self.n_articles,
            "n_figures": self.n_figures,
            "n_em_figures": self.n_em_figures,
            "n_panels": self.n_panels,
            "n_micrographs": self.n_micrographs,
            "n_duplicates": self.n_duplicates,
            "n_written": self.n_written,
            "written": [image.filename for image in self.images],
            "failures": [{"item": f.item, "reason": f.reason} for f in self.failures],
            "removed": list(self.removed),
            "ok": self.ok,
        }


def panel_stem(doi: str, locator: str, index: int) -> str:
    """File stem of panel ``index`` (1-based) of figure ``locator`` of ``doi`` (see module docstring)."""
    return emps_stem(doi, locator, index)


class _Deduplicator:
    """Perceptual hashes of the panels kept so far; says whether a new panel is a near-duplicate."""

    def __init__(self, max_distance: int) -> None:
        self.max_distance = max_distance
        self.kept: list[tuple[Any, str]] = []

    def duplicate_of(self, image: np.ndarray) -> tuple[Any, str | None]:
        """(hash of ``image``, name of the kept panel it duplicates or None)."""
        import imagehash

        digest = imagehash.phash(Image.fromarray(image))
        for other, name in self.kept:
            if digest - other <= self.max_distance:
                return digest, name
        return digest, None


def build_dataset(
    dois: Iterable[str],
    *,
    out_dir: str | Path,
    corpus_dir: str | Path | None = None,
    db: str | Path | None = None,
    harvest_config: HarvestConfig | None = None,
    max_duplicate_distance: int = PHASH_MAX_DISTANCE,
    progress: bool = False,
) -> BuildReport:
    """Harvest ``dois`` and write their micrograph panels as an unannotated EMPS-style dataset.

    Parameters
    ----------
    dois : DOIs, as written (validated per DOI; a bad one becomes a failure).
    out_dir : dataset folder to write: ``images/``, ``metadata.csv`` and ``via_project.json``
        (``metadata.csv`` and the VIA project are replaced, and stale images of an earlier build
        removed; a folder with ``segmaps/`` is refused: see the module docstring).
    corpus_dir : where articles are harvested to (the corpus layout); default ``out_dir/corpus``.
        Reruns fetch only what is missing. Endpoints and keys come from the environment.
    db : optional database (path or SQLAlchemy URL) in which the articles and the figures that
        gave images are recorded (upserts, so reruns do not duplicate rows).
    harvest_config : :class:`imagedataextractor.harvest.HarvestConfig` (timeouts, rates), or None.
    max_duplicate_distance : Hamming distance in bits (of 64) of perceptual hashes at or below which
        a panel is dropped as a near-duplicate of one kept before it.
    progress : show a progress bar per article.

    Returns
    -------
    :class:`BuildReport`. A DOI that was not harvested, an article that cannot be parsed, or a figure
    that cannot be read or split is recorded in ``failures`` and the build goes on. Raises
    :class:`DatasetError` before harvesting when ``out_dir`` holds annotated maps.

    Example
    -------
    >>> report = build_dataset(["10.1016/j.carbon.2019.12.021"], out_dir="new-set")  # doctest: +SKIP
    >>> report.n_written, (report.out_dir / "via_project.json").exists()  # doctest: +SKIP
    (2, True)
    """
    from ..document import parse_article
    from ..harvest import harvest
    from ..pipeline import extract_figure
    from ..harvest.provenance import read_provenance

    out_dir = Path(out_dir)
    if list_stems(out_dir, SEGMAPS):
        raise DatasetError(
            f"{out_dir}: holds annotated instance maps ({SEGMAPS}/); rebuilding would replace {METADATA} "
            "and drop their regions, so build into a new folder"
        )
    corpus = Path(corpus_dir) if corpus_dir is not None else out_dir / "corpus"
    dois = list(dois)
    summary = harvest(dois, corpus_dir=corpus, config=harvest_config, progress=progress)

    failures: list[BuildFailure] = []
    images: list[DatasetImage] = []
    articles: list[tuple[str, Article, str | None]] = []  # (DOI, article, harvest source)
    counts = dict(figures=0, em_figures=0, panels=0, micrographs=0, duplicates=0)
    deduplicator = _Deduplicator(max_duplicate_distance)
    (out_dir / IMAGES).mkdir(parents=True, exist_ok=True)

    for outcome in with_progress(summary.outcomes, enabled=progress, desc="build"):
        path = article_file(outcome.directory) if outcome.directory is not None else None
        if outcome.status == "failed" or path is None:
            failures.append(BuildFailure(outcome.doi, outcome.reason or f"not harvested ({outcome.status})"))
        if path is None:
            continue
        try:
            article = parse_article(path, chem_ner="builtin")
        except IDEError as exc:
            failures.append(BuildFailure(outcome.doi, str(exc)))
            continue
        doi = outcome.doi  # the DOI asked for and harvested; the article file's own may be absent
        articles.append((doi, article, outcome.source))
        figure_sources = (read_provenance(outcome.directory) or {}).get("figures", {})
        for figure in article.figures:
            counts["figures"] += 1
            counts["em_figures"] += figure.em.is_em
            item = f"{doi} {figure.locator}"
            if figure.image_path is None:
                failures.append(BuildFailure(item, "no image file was harvested for this figure"))
                continue
            try:
                results = extract_figure(read_image(figure.image_path), SPLIT_ONLY, source=str(figure.image_path))
            except IDEError as exc:
                failures.append(BuildFailure(item, str(exc)))
                continue
            counts["panels"] += len(results)
            for index, result in enumerate(results, start=1):
                panel = result.panel
                if result.status != "done" or panel is None:
                    continue
                counts["micrographs"] += 1
                stem = panel_stem(doi, figure.locator, index)
                digest, original = deduplicator.duplicate_of(panel.image)
                if original is not None:
                    counts["duplicates"] += 1
                    log.info("%s: near-duplicate of %s, dropped", stem, original)
                    continue
                deduplicator.kept.append((digest, stem))
                destination = out_dir / IMAGES / f"{stem}.png"
                Image.fromarray(panel.image).save(destination)
                images.append(
                    DatasetImage(
                        filename=destination.name,
                        doi=doi,
                        locator=figure.locator,
                        panel=index,
                        panel_label=panel.label,
                        bbox_px=panel.bbox,
                        microscopy=figure.em.microscopy,
                        caption=figure.caption,
                        source_url=figure_sources.get(figure.locator, {}).get("url") or figure.href,
                        licence=article.licence,
                        size_bytes=destination.stat().st_size,
                    )
                )

    removed = _remove_stale_images(out_dir / IMAGES, {image.filename for image in images})
    write_metadata(out_dir, images)
    write_via_project(out_dir / VIA_PROJECT, images, images_dir=out_dir / IMAGES, name=out_dir.name)
    if db is not None:
        _record_in_db(db, articles, images)
    report = BuildReport(
        out_dir=out_dir,
        n_dois=len(summary.outcomes),
        n_articles=len(articles),
        n_figures=counts["figures"],
        n_em_figures=counts["em_figures"],
        n_panels=counts["panels"],
        n_micrographs=counts["micrographs"],
        n_duplicates=counts["duplicates"],
        images=tuple(images),
        failures=tuple(failures),
        removed=removed,
    )
    log.info(
        "%s: %d articles, %d figures (%d EM), %d panels, %d micrographs, %d duplicates dropped, %d written, %d failed",
        out_dir, report.n_articles, report.n_figures, report.n_em_figures, report.n_panels,
        report.n_micrographs, report.n_duplicates, report.n_written, len(report.failures),
    )
    return report


def _remove_stale_images(images_dir: Path, written: set[str]) -> tuple[str, ...]:
    """Delete the PNGs in ``images_dir`` that are not in ``written`` (left by an earlier build); their names."""
    stale = tuple(f"{stem}.png" for stem in list_stems(images_dir.parent, images_dir.name) if f"{stem}.png" not in written)
    for name in stale:
        (images_dir / name).unlink()
    if stale:
        log.info("%s: removed %d image(s) of an earlier build that this build did not write", images_dir, len(stale))
    return stale


def write_metadata(out_dir: Path, images: Iterable[DatasetImage]) -> Path:
    """Write ``out_dir/metadata.csv``: the EMPS columns (readable by
    :func:`imagedataextractor.datasets.layout.read_metadata`) followed by :data:`EXTRA_COLUMNS`."""
    import pandas as pd

    path = Path(out_dir) / METADATA
    frame = pd.DataFrame([image.to_row() for image in images], columns=[*METADATA_COLUMNS, *EXTRA_COLUMNS])
    frame.to_csv(path, index=False)
    return path


def via_project(images: Iterable[DatasetImage], *, images_dir: Path, name: str) -> dict[str, Any]:
    """A VIA 2 project (format 2.0.10) listing ``images`` with no regions.

    Entries are keyed by file name + size in bytes, as VIA keys them, so that files added in VIA
    ("Add Files") attach to their entries. ``default_filepath`` is ``images_dir`` (absolute, with a
    trailing "/"), where VIA looks for the files when the project is loaded. The ``doi`` and
    ``locator`` file attributes travel with each entry back into ``ide dataset import-via``.
    """
    metadata = {
        f"{image.filename}{image.size_bytes}": {
            "filename": image.filename,
            "size": image.size_bytes,
            "regions": [],
            "file_attributes": {"doi": image.doi, "locator": image.locator},
        }
        for image in images
    }
    text_attribute = {"type": "text", "description": "", "default_value": ""}
    return {
        "_via_settings": {
            "ui": {
                "annotation_editor_height": 25,
                "annotation_editor_fontsize": 0.8,
                "leftsidebar_width": 18,
                "image_grid": {
                    "img_height": 80, "rshape_fill": "none", "rshape_fill_opacity": 0.3, "rshape_stroke": "yellow",
                    "rshape_stroke_width": 2, "show_region_shape": True, "show_image_policy": "all",
                },
                "image": {
                    "region_label": "__via_region_id__", "region_color": "__via_default_region_color__",
                    "region_label_font": "10px Sans", "on_image_annotation_editor_placement": "NEAR_REGION",
                },
            },
            "core": {"buffer_size": 18, "filepath": {}, "default_filepath": f"{Path(images_dir).resolve().as_posix()}/"},
            "project": {"name": name},
        },
        "_via_img_metadata": metadata,
        "_via_attributes": {"region": {}, "file": {"doi": dict(text_attribute), "locator": dict(text_attribute)}},
        "_via_data_format_version": VIA_FORMAT_VERSION,
        "_via_image_id_list": list(metadata),
    }


def write_via_project(path: Path, images: Iterable[DatasetImage], *, images_dir: Path, name: str) -> Path:
    """Write :func:`via_project` to ``path`` as JSON."""
    path = Path(path)
    try:
        path.write_text(json.dumps(via_project(images, images_dir=images_dir, name=name), indent=1), encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot write the VIA project ({exc})") from None
    return path


def _record_in_db(db: str | Path, articles: list[tuple[str, Article, str | None]], images: list[DatasetImage]) -> None:
    """Upsert the articles and the figures that gave images (caption, microscopy, materials)."""
    from ..persistence import ArticleInfo, FigureInfo, save_article, save_figure
    from ..store import open_db

    kept = {(image.doi, image.locator) for image in images}
    with open_db(db) as database:
        for doi, article, source in articles:
            save_article(database, ArticleInfo(doi, article.title, article.journal, article.publisher, article.licence, source))
            for figure in article.figures:
                if (doi, figure.locator) in kept:
                    info = FigureInfo(
                        doi=doi, locator=figure.locator, label=figure.label, caption=figure.caption,
                        microscopy=figure.em.microscopy, materials=figure.em.materials, is_em=figure.em.is_em,
                    )
                    save_figure(database, None, info=info)
