"""Fixtures for the store tests: an image result, and databases on SQLite and on the throwaway
PostgreSQL server of ``pg_cluster`` (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imagedataextractor.store import DistributionRecord, ImageRecord, Provenance, RdfRecord, ScalebarRecord, pixel_sha256


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "ide.sqlite")
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def same_backend_db_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Another fresh database on ``db_url``'s backend (JSON columns read back differently on each)."""
    if db_url.startswith("postgresql"):
        return request.getfixturevalue("pg_cluster").new_database()
    return str(tmp_path / "other.sqlite")


def _make_record(*, seed: int = 0, n_particles: int = 5, method: str = "bpartis", tu: float = 0.0125, figure_id: int | None = None) -> ImageRecord:
    """A complete image result with ``n_particles`` particles, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)
    diameter_px = rng.uniform(5, 20, n_particles)
    nm_per_px = 0.5
    particles = pd.DataFrame(
        {
            "particle_id": np.arange(1, n_particles + 1),
            "area_px": np.pi * diameter_px**2 / 4,
            "area_nm2": np.pi * diameter_px**2 / 4 * nm_per_px**2,
            "diameter_px": diameter_px,
            "diameter_nm": diameter_px * nm_per_px,
            "aspect_ratio_feret": rng.uniform(1, 2, n_particles),
            "circularity": np.where(np.arange(n_particles) == 0, np.nan, 0.9),  # NaN is stored as NULL
            "centroid_x_px": rng.uniform(0, 80, n_particles),
            "centroid_y_px": rng.uniform(0, 64, n_particles),
            "touches_border": np.arange(n_particles) % 2 == 0,
            "eccentricity": rng.uniform(0, 1, n_particles),  # unknown column: kept in `extra`
        }
    )
    counts, edges = np.histogram(particles["diameter_nm"], bins=4)
    return ImageRecord(
        sha256=pixel_sha256(image),
        width_px=80,
        height_px=64,
        figure_id=figure_id,
        bbox_px=(10, 20, 90, 84),
        label="a",
        provenance=Provenance(
            method=method,
            model_name="bpartis-emps",
            model_version="1.0",
            tu=tu,
            samples=30,
            settings={"seed_threshold": 0.5},
            source="figures/gr1.jpg",
            doi="10.1016/J.TEST.2024.01",
            figure_locator="gr1",
        ),
        scalebar=ScalebarRecord(text="100 nm", value=100.0, unit="nm", length_px=200.0, nm_per_px=nm_per_px, bbox_px=(5, 50, 60, 62)),
        particles=particles,
        distributions=[
            DistributionRecord(
                kind="diameter_nm",
                bin_edges=edges,
                counts=counts,
                mean=float(particles["diameter_nm"].mean()),
                median=float(particles["diameter_nm"].median()),
                std=float(particles["diameter_nm"].std()),
            )
        ],
        rdf=RdfRecord(radii=np.linspace(1, 10, 10), g_r=np.r_[np.nan, rng.uniform(0, 2, 9)], unit="nm", dr=1.0, n_points=n_particles),
    )


@pytest.fixture
def make_record():
    """Factory for image results: ``make_record(seed=0, n_particles=5, method="bpartis", tu=0.0125, figure_id=None)``."""
    return _make_record
