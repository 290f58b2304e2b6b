"""Fill a results database with generated rows (articles, figures, panels, particles, histograms,
g(r), failed and skipped items), through the store's public API: the report test's fixture and
the report benchmark's many-panel database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imagedataextractor.store import DistributionRecord, ImageRecord, Provenance, RdfRecord, ScalebarRecord

MATERIALS = ("Au", "Ag", "TiO2", "Fe3O4", "SiO2", "CeO2")
MICROSCOPY = ("TEM", "SEM", "HRTEM", "STEM")
PANEL_PX = (256, 256)


def particles(rng: np.random.Generator, n: int, nm_per_px: float | None) -> pd.DataFrame:
    """``n`` round-ish particles scattered over a PANEL_PX panel (px and, with a scale, nm columns)."""
    height, width = PANEL_PX
    diameter = rng.normal(20, 4, n).clip(6, None)
    stretch = rng.uniform(1.0, 1.6, n)
    frame = pd.DataFrame({
        "particle_id": np.arange(1, n + 1),
        "centroid_x_px": rng.uniform(10, width - 10, n),
        "centroid_y_px": rng.uniform(10, height - 10, n),
        "area_px": np.pi * diameter**2 / 4,
        "diameter_px": diameter,
        "ellipse_major_px": diameter * np.sqrt(stretch),
        "ellipse_minor_px": diameter / np.sqrt(stretch),
        "orientation_deg": rng.uniform(0, 180, n),
        "aspect_ratio_feret": stretch,
        "circularity": rng.uniform(0.7, 1.0, n),
        "touches_border": np.zeros(n, bool),
    })
    if nm_per_px is not None:
        frame["diameter_nm"] = frame["diameter_px"] * nm_per_px
        frame["area_nm2"] = frame["area_px"] * nm_per_px**2
    return frame


def _histogram(values: pd.Series, kind: str) -> DistributionRecord:
    counts, edges = np.histogram(values, bins="auto")
    return DistributionRecord(kind, edges.tolist(), counts.tolist(), mean=float(values.mean()), median=float(values.median()), std=float(values.std(ddof=1)))


def fill(db, *, n_articles: int, panels_per_article: int, image: Path | None, seed: int = 0, particles_per_panel: int = 30) -> None:
    """``n_articles`` articles (DOI 10.5555/synthetic.<i>), one figure each (material
    MATERIALS[i % 6], microscopy MICROSCOPY[i % 4], source ``image``) with ``panels_per_article``
    measured panels; every tenth article also has a panel that failed and one skipped as not a
    micrograph; two DOIs could not be harvested (jobs rows only)."""
    rng = np.random.default_rng(seed)
    for index in range(n_articles):
        doi = f"10.5555/synthetic.{index}"
        db.upsert_article(doi, title=f"Synthetic article {index} on {MATERIALS[index % len(MATERIALS)]} nanoparticles", journal="Journal of Generated Rows")
        figure_id = db.upsert_figure(doi=doi, locator="gr1", label="Fig. 1", caption=f"{MICROSCOPY[index % 4]} images of {MATERIALS[index % 6]} particles.",
                                     source=None if image is None else str(image), sha256=f"{index:064x}", microscopy_type=MICROSCOPY[index % 4],
                                     materials=[MATERIALS[index % len(MATERIALS)]], is_em=True)
        for number in range(panels_per_article + 2 * (index % 10 == 0)):
            status, reason, is_micrograph = "done", None, True
            if number == panels_per_article:
                status, reason = "failed", "segmentation: image is blank"
            elif number == panels_per_article + 1:
                status, reason, is_micrograph = "skipped", "a plot, not a micrograph", False
            nm_per_px = None if number % 3 == 2 else 0.5
            n = particles_per_panel if number % 4 != 3 else 4  # some panels with too few particles for g(r)
            table = particles(rng, n, nm_per_px) if status == "done" else None
            distributions, rdf = [], None
            if table is not None:
                unit = "nm" if nm_per_px else "px"
                distributions = [_histogram(table[f"diameter_{unit}"], f"diameter_{unit}"), _histogram(table["aspect_ratio_feret"], "aspect_ratio_feret")]
                if n >= 10:
                    radii = np.arange(2.0, 60.0, 4.0)
                    rdf = RdfRecord(((radii * nm_per_px) if nm_per_px else radii).tolist(), (1 + np.exp(-radii / 15) * np.cos(radii / 4)).tolist(),
                                    unit, 4.0 * (nm_per_px or 1), n)
            db.save_image_result(ImageRecord(
                sha256=f"{index:032x}{number:032x}", width_px=PANEL_PX[1], height_px=PANEL_PX[0],
                provenance=Provenance(method="watershed", settings={"min_area_px": 30}, doi=doi, figure_locator="gr1", status=status, reason=reason),
                figure_id=figure_id, bbox_px=(0, 0, PANEL_PX[1], PANEL_PX[0]), label=chr(ord("a") + number % 26), is_micrograph=is_micrograph,
                skip_reason=None if is_micrograph else reason,
                scalebar=None if nm_per_px is None else ScalebarRecord("50 nm", 50.0, "nm", 100.0, nm_per_px, (140, 230, 240, 240)),
                particles=table, distributions=distributions, rdf=rdf,
            ))
    for doi in ("10.5555/unharvested.1", "10.5555/unharvested.2"):
        db.mark(doi, "failed", "HTTP 404 from the publisher", job="articles")
