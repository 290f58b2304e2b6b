"""What the runner is told: :class:`ExtractSettings`, every stage's configuration in one frozen
value, validated once when it is made. Imports no stage code and not torch (only the stages'
configuration types), so a run's settings can be checked and hashed before anything loads."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import SettingsError
from .figsplit.types import SplitConfig
from .measure.types import MeasureConfig
from .scalebar.types import ScalebarConfig
from .segment.config import METHODS, PRECISION_NAMES, BPartISConfig
from .store.records import settings_sha256


@dataclass(frozen=True)
class ExtractSettings:
    """Every setting of :func:`imagedataextractor.pipeline.extract_figure`, for every stage.

    method: segmentation method (:data:`imagedataextractor.segment.METHODS`), or None to split and
        classify the panels only (nothing is segmented or measured; ``dataset build`` does this).
    split: split the figure into panels (``split_config``) and skip the non-micrograph ones; False
        treats the whole image as one micrograph.
    scalebar: read the scalebar (``scalebar_config``) for nm per pixel, and inpaint it before
        segmentation; False (or no readable bar) gives pixel units.
    mask_labels: find panel labels printed in a micrograph's corners (``split_config``'s label
        settings), inpaint them before segmentation and drop the particles under them.
    keep_border: keep particles that touch the panel border in the segmentation.
    bpartis: BPartIS settings (model, samples, tu, seed, precision...); its ``model`` and ``device``
        also pick the learned baselines' bundle and device.
    measure: measurement settings (border particles in the statistics, histogram bins, RDF).

    A bad value raises :class:`~imagedataextractor.errors.SettingsError` naming the field.
    """

    method: str | None = "bpartis"
    split: bool = True
    split_config: SplitConfig = field(default_factory=SplitConfig)
    scalebar: bool = True
    scalebar_config: ScalebarConfig = field(default_factory=ScalebarConfig)
    mask_labels: bool = True
    keep_border: bool = False
    bpartis: BPartISConfig = field(default_factory=BPartISConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in METHODS:
            _bad("method", self.method, f"choose from {', '.join(METHODS)}")
        for name in ("split", "scalebar", "mask_labels", "keep_border"):
            if not isinstance(getattr(self, name), bool):
                _bad(name, getattr(self, name), "must be True or False")
        for name, kind in (("split_config", SplitConfig), ("scalebar_config", ScalebarConfig), ("bpartis", BPartISConfig), ("measure", MeasureConfig)):
            if not isinstance(getattr(self, name), kind):
                _bad(name, getattr(self, name), f"must be a {kind.__name__}")
        _check_bpartis(self.bpartis)
        _check_measure(self.measure)
        _check_split(self.split_config)

    def key(self) -> str:
        """12 hex digits naming the settings that change a run's results (:func:`settings_sha256`
        of :meth:`fingerprint`): the jobs of a rerun with other settings are separate, so it
        measures everything again (beside, not over, the earlier results)."""
        return settings_sha256(self.fingerprint())[:12]

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change the results, as plain JSON values. Stage configurations
        appear only when they differ from their defaults, and ``mask_labels`` only when off."""
        values: dict[str, Any] = {"method": self.method, "split": self.split, "scalebar": self.scalebar, "keep_border": self.keep_border}
        if not self.mask_labels:
            values["mask_labels"] = False
        if self.method is not None and self.method.startswith("bpartis"):
            # Where it runs and whether its activations are compiled do not change the results.
            values["bpartis"] = {k: v for k, v in asdict(self.bpartis).items() if k not in ("device", "compile")}
        for name in ("split_config", "scalebar_config", "measure"):
            config = getattr(self, name)
            if config != type(config)():
                values[name] = asdict(config)
        return json.loads(json.dumps(values))  # tuples (bins) as lists: what the hash sees


def _bad(name: str, value: object, rule: str) -> None:
    raise SettingsError(f"settings.{name}={value!r}: {rule}")


def _check_bpartis(config: BPartISConfig) -> None:
    if config.mode not in ("bayesian", "discriminative"):
        _bad("bpartis.mode", config.mode, "choose from bayesian, discriminative")
    if config.n_samples is not None and (not isinstance(config.n_samples, int) or config.n_samples < 1):
        _bad("bpartis.n_samples", config.n_samples, "must be a whole number, at least 1")
    if config.tu is not None and not (isinstance(config.tu, (int, float)) and math.isfinite(config.tu) and config.tu >= 0):
        _bad("bpartis.tu", config.tu, "must be a finite number >= 0 (nats)")
    if not isinstance(config.seed, int):
        _bad("bpartis.seed", config.seed, "must be a whole number")
    if not isinstance(config.batch_size, int) or config.batch_size < 1:
        _bad("bpartis.batch_size", config.batch_size, "must be a whole number, at least 1")
    if config.precision not in PRECISION_NAMES:
        _bad("bpartis.precision", config.precision, f"choose from {', '.join(PRECISION_NAMES)}")
    device = config.device.split(":", 1)
    if device[0] not in ("cpu", "cuda") or (len(device) == 2 and not device[1].isdigit()):
        _bad("bpartis.device", config.device, "use cpu, cuda or cuda:N")


def _check_measure(config: MeasureConfig) -> None:
    if config.aspect_ratio not in ("feret", "ellipse"):
        _bad("measure.aspect_ratio", config.aspect_ratio, "choose from feret, ellipse")
    if not 0 < config.rdf_rcutoff <= 1:
        _bad("measure.rdf_rcutoff", config.rdf_rcutoff, "must be in (0, 1]")
    if config.rdf_dr_px is not None and not config.rdf_dr_px > 0:
        _bad("measure.rdf_dr_px", config.rdf_dr_px, "must be > 0 pixels, or None")
    if config.rdf_min_particles < 2:
        _bad("measure.rdf_min_particles", config.rdf_min_particles, "must be at least 2")


def _check_split(config: SplitConfig) -> None:
    for item in fields(config):
        value = getattr(config, item.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            _bad(f"split_config.{item.name}", value, "must be >= 0")
