"""Classical segmentation baselines on discs drawn in code."""

from __future__ import annotations

import inspect
import json

import cv2
import numpy as np
import pytest

from imagedataextractor.errors import ImageError
from imagedataextractor.segment.baselines import (
    BASELINES,
    GmmConfig,
    Ide1Config,
    WatershedConfig,
    segment_gmm,
    segment_ide1,
    segment_watershed,
)
from imagedataextractor.segment.baselines.common import particles_are_bright
from imagedataextractor.segment.baselines.gmm import fit_gmm_1d, select_gmm_1d
from imagedataextractor.segment.types import Segmentation

SIZE = 256
SEPARATED = [((60, 60), 20), ((180, 55), 16), ((120, 130), 22), ((55, 190), 18), ((190, 190), 24)]
DARK, LIGHT = 60, 190


def draw_discs(discs, *, bright: bool, noise: float = 4.0, seed: int = 0, size: int = SIZE):
    """(size, size, 3) uint8 RGB image of filled discs ((x, y), radius) with Gaussian noise, and the
    (size, size) ground-truth instance map (disc i has id i + 1)."""
    particle, background = (LIGHT, DARK) if bright else (DARK, LIGHT)
    truth = np.zeros((size, size), np.int32)
    for i, (centre, radius) in enumerate(discs):
        cv2.circle(truth, centre, radius, i + 1, -1)
    grey = np.where(truth > 0, particle, background).astype(np.float64)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0) + np.random.default_rng(seed).normal(0.0, noise, grey.shape)
    grey = np.clip(np.round(grey), 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2), truth


def best_ious(truth: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each ground-truth instance, its highest IoU with any predicted instance."""
    n_truth, n_pred = int(truth.max()), int(labels.max())
    pairs = np.bincount(truth.ravel() * (n_pred + 1) + labels.ravel().astype(np.int64), minlength=(n_truth + 1) * (n_pred + 1))
    overlap = pairs.reshape(n_truth + 1, n_pred + 1)
    union = overlap.sum(1)[1:, None] + overlap.sum(0)[None, 1:] - overlap[1:, 1:]
    if n_pred == 0:
        return np.zeros(n_truth)
    return (overlap[1:, 1:] / union).max(axis=1)


def check_segmentation(seg: Segmentation, shape: tuple[int, int], method: str) -> None:
    assert isinstance(seg, Segmentation)
    assert seg.labels.dtype == np.uint16 and seg.labels.shape == shape
    ids = np.unique(seg.labels)
    assert list(ids[ids > 0]) == list(range(1, seg.n_instances + 1))
    assert seg.uncertainty is None
    assert seg.method == method
    json.dumps(seg.details)
    if seg.scores is not None:
        assert seg.scores.shape == (seg.n_instances,)
        assert np.all((seg.scores >= 0) & (seg.scores <= 1))


@pytest.mark.parametrize("bright", [True, False], ids=["bright", "dark"])
@pytest.mark.parametrize("method", sorted(BASELINES))
def test_separated_discs_are_found(method: str, bright: bool) -> None:
    image, truth = draw_discs(SEPARATED, bright=bright)
    seg = BASELINES[method](image)
    check_segmentation(seg, truth.shape, method)
    assert seg.n_instances == len(SEPARATED)
    assert np.all(best_ious(truth, seg.labels) > 0.8)
    assert seg.details["particles_bright"] is bright


TOUCHING = [((98, 128), 30), ((158, 128), 30)]


@pytest.mark.parametrize("bright", [True, False], ids=["bright", "dark"])
def test_watershed_splits_touching_discs(bright: bool) -> None:
    image, truth = draw_discs(TOUCHING, bright=bright)
    seg = segment_watershed(image)
    assert seg.n_instances == 2
    assert np.all(best_ious(truth, seg.labels) > 0.8)


@pytest.mark.parametrize("bright", [True, False], ids=["bright", "dark"])
def test_ide1_cuts_touching_discs_at_the_neck(bright: bool) -> None:
    # A clean image: on a noisy flat background ide1's speckle shrinks the mean particle area, which
    # sets how far it searches across a neck, and the pair stays whole (as in ImageDataExtractor 1.0).
    image, truth = draw_discs(TOUCHING, bright=bright, noise=1.0)
    seg = segment_ide1(image)
    assert seg.n_instances == 2
    assert np.all(best_ious(truth, seg.labels) > 0.8)


def test_ide1_scores_separate_particles_from_threshold_speckle() -> None:
    image, truth = draw_discs(SEPARATED, bright=False, noise=6.0)
    seg = segment_ide1(image)
    assert seg.n_instances > len(SEPARATED)  # the C = 0 adaptive threshold turns flat noise into blobs
    overlap = np.bincount(seg.labels[truth > 0], minlength=seg.n_instances + 1)[1:]
    on_disc = overlap > 0
    assert on_disc.sum() == len(SEPARATED)
    assert seg.scores[on_disc].min() > 0.3 and seg.scores[~on_disc].max() < 0.05


def test_gmm_keeps_touching_discs_as_one_phase_region() -> None:
    image, truth = draw_discs(TOUCHING, bright=True)
    seg = segment_gmm(image)
    assert seg.n_instances == 1
    union = (truth > 0).astype(np.int32)
    assert best_ious(union, seg.labels.astype(np.int32))[0] > 0.8


def test_watershed_does_not_split_an_elongated_particle() -> None:
    image = np.full((SIZE, SIZE), DARK, np.uint8)
    cv2.ellipse(image, (128, 128), (70, 22), 30, 0, 360, LIGHT, -1)
    assert segment_watershed(image).n_instances == 1


@pytest.mark.parametrize("method", sorted(BASELINES))
@pytest.mark.parametrize("level", [0, 128, 255])
def test_empty_image_has_no_instances(method: str, level: int) -> None:
    seg = BASELINES[method](np.full((SIZE, SIZE, 3), level, np.uint8))
    check_segmentation(seg, (SIZE, SIZE), method)
    assert seg.n_instances == 0 and not seg.labels.any()


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_greyscale_and_odd_sizes(method: str) -> None:
    image, truth = draw_discs(SEPARATED, bright=False, size=SIZE)
    grey = np.ascontiguousarray(image[:201, :, 0])
    seg_grey = BASELINES[method](grey)
    seg_rgb = BASELINES[method](np.ascontiguousarray(image[:201]))
    check_segmentation(seg_grey, (201, SIZE), method)
    np.testing.assert_array_equal(seg_grey.labels, seg_rgb.labels)
    assert seg_grey.n_instances >= 3


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_signature_is_image_plus_keyword_config(method: str) -> None:
    parameters = inspect.signature(BASELINES[method]).parameters
    assert list(parameters) == ["image", "config"]
    assert parameters["config"].kind is inspect.Parameter.KEYWORD_ONLY
    assert BASELINES[method].__name__ == f"segment_{method}"


def test_forced_polarity_overrides_auto() -> None:
    image, _ = draw_discs(SEPARATED, bright=True)
    assert segment_watershed(image, config=WatershedConfig(polarity="dark")).details["particles_bright"] is False
    assert particles_are_bright(image[:, :, 0]) is True
    assert particles_are_bright(255 - image[:, :, 0]) is False


@pytest.mark.parametrize("config", [Ide1Config, GmmConfig, WatershedConfig])
def test_configs_reject_bad_polarity(config) -> None:
    with pytest.raises(ValueError, match="polarity"):
        config(polarity="upside-down")


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_bad_input_raises_image_error(method: str) -> None:
    with pytest.raises(ImageError, match="image"):
        BASELINES[method](np.zeros((32, 32, 2), np.uint8))


def test_gmm_fit_recovers_a_two_phase_histogram() -> None:
    rng = np.random.default_rng(1)
    pixels = np.concatenate([rng.normal(70, 8, 30000), rng.normal(180, 12, 10000)])
    counts = np.bincount(np.clip(np.round(pixels), 0, 255).astype(int), minlength=256)
    fit = fit_gmm_1d(counts, 2)
    np.testing.assert_allclose(fit.means, [70, 180], atol=1.0)
    np.testing.assert_allclose(np.sqrt(fit.variances), [8, 12], atol=1.0)
    np.testing.assert_allclose(fit.weights, [0.75, 0.25], atol=0.01)
    assert len(select_gmm_1d(counts, max_components=4).means) == 2
    one_phase = np.bincount(np.clip(np.round(rng.normal(120, 10, 40000)), 0, 255).astype(int), minlength=256)
    assert len(select_gmm_1d(one_phase, max_components=4).means) == 1
