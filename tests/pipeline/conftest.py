"""Fixtures of the pipeline tests; the drawings are in pipeline_figures.py."""

from __future__ import annotations

import pytest
from PIL import Image

from pipeline_figures import two_panel_figure


@pytest.fixture(scope="session")
def figure_path(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("figure") / "fig1.png"
    Image.fromarray(two_panel_figure()).save(path)
    return path
