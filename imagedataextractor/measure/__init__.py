"""MEASURE stage: instance label map (+ scale, + uncertainty) -> particle table and per-image
statistics (size and aspect-ratio histograms, radial distribution function, coverage)."""

from ..intervals import DistributionInterval, IntervalConfig, distribution_interval, scale_relative_sd
from .measurements import Measurements, measure
from .particles import diameter_spread_px
from .types import Histogram, MeasureConfig, RadialDistribution

__all__ = [
    "DistributionInterval",
    "Histogram",
    "IntervalConfig",
    "MeasureConfig",
    "Measurements",
    "RadialDistribution",
    "diameter_spread_px",
    "distribution_interval",
    "measure",
    "scale_relative_sd",
]
