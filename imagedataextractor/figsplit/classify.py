"""Is a panel a micrograph? Two image statistics, each with a threshold in :class:`SplitConfig`.

- colour fraction: share of pixels whose RGB channels differ by more than 24 levels. EM images are
  greyscale (all 465 EMPS images have equal channels); plots and schematics use colour.
- paper fraction: share of pixels that are near-white (grey >= 250) and flat (their 3x3
  neighbourhood is one value). Plots and drawings sit on white paper, even after JPEG compression
  (flat white blocks survive it); detector noise keeps micrograph backgrounds from being flat.

A 5 % frame is left out so that labels, borders and scale bars weigh little. Measured on the 465
EMPS micrographs (lossless and JPEG quality 60) against 600 generated plots and schematics: EMPS
paper fraction at most 0.15, greyscale drawings at least 0.27. Rejected statistics: the flat
fraction of any colour and the grey-level entropy, because EMPS holds dark-field and SEM images
with flat black backgrounds (flat fraction up to 0.72) and near-binary images (entropy down to
2.6 bits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .types import SplitConfig

#: Channel spread (grey levels) above which a pixel counts as coloured.
COLOURED_PIXEL_SPREAD = 24
#: Grey level from which a flat pixel counts as white paper.
PAPER_LEVEL = 250
#: Standard deviation of grey levels under which a panel is blank (no image at all).
BLANK_SPREAD = 2.0


@dataclass(frozen=True)
class PanelStatistics:
    """colour_fraction and paper_fraction (0-1) of a panel, see the module docstring."""

    colour_fraction: float
    paper_fraction: float


def panel_statistics(image: np.ndarray) -> PanelStatistics:
    """Statistics of an (H, W, 3) uint8 RGB panel."""
    height, width = image.shape[:2]
    margin_y, margin_x = height // 20, width // 20
    core = image[margin_y : height - margin_y, margin_x : width - margin_x].astype(np.int16)
    colour_fraction = float(((core.max(axis=2) - core.min(axis=2)) > COLOURED_PIXEL_SPREAD).mean())
    grey = np.round(core.mean(axis=2)).astype(np.uint8)
    flat = ndi.maximum_filter(grey, size=3) == ndi.minimum_filter(grey, size=3)
    paper_fraction = float((flat & (grey >= PAPER_LEVEL)).mean())
    return PanelStatistics(colour_fraction, paper_fraction)


def classify_panel(image: np.ndarray, *, config: SplitConfig) -> tuple[bool, str | None]:
    """(is_micrograph, reason it is not) for an (H, W, 3) uint8 RGB panel. A blank panel (grey
    levels spread less than ``BLANK_SPREAD``: all black, all white, one flat tone) is not one."""
    spread = float(image.astype(np.float32).mean(axis=2).std())
    if spread < BLANK_SPREAD:
        return False, f"blank (grey-level spread {spread:.1f} < {BLANK_SPREAD})"
    stats = panel_statistics(image)
    if stats.colour_fraction > config.max_colour_fraction:
        return False, f"colour image ({stats.colour_fraction:.0%} coloured pixels > {config.max_colour_fraction:.0%})"
    if stats.paper_fraction > config.max_paper_fraction:
        return False, f"drawing on white ({stats.paper_fraction:.0%} flat white pixels > {config.max_paper_fraction:.0%})"
    return True, None
