"""MEASURE stage: instance label map (+ scale, + uncertainty) -> particle table and per-image
statistics (size and aspect-ratio histograms, radial distribution function, coverage)."""

from .measurements import Measurements, measure
from .types import Histogram, MeasureConfig, RadialDistribution

__all__ = ["Histogram", "MeasureConfig", "Measurements", "RadialDistribution", "measure"]
