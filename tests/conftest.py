"""Shared fixtures. Tests that need the full EMPS set use ``emps_dir`` and are skipped only when the
set is absent (a user's fresh machine); CI has it at ../shared/emps."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagedataextractor.datasets import default_emps_dir

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def emps_dir() -> Path:
    root = default_emps_dir()
    if not (root / "images").is_dir():
        pytest.skip(f"full EMPS set not found at {root} (set IDE_EMPS_DIR)")
    return root
