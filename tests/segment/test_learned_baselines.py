"""Learned baselines (unet, dilated-unet-crf): networks, CRF, instance separation, shipped bundles."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from imagedataextractor.errors import ModelError
from imagedataextractor.segment import METHODS, BPartISConfig, segment
from imagedataextractor.segment.learned import (
    NETWORKS,
    DenseCRFConfig,
    DilatedUNetCRFConfig,
    UNet,
    UNetConfig,
    dense_crf,
    load_learned,
    segment_dilated_unet_crf,
    segment_unet,
    separate_chan_vese,
    separate_instances,
)

from test_baselines import SEPARATED, best_ious, draw_discs

TOUCHING = [((100, 128), 30), ((158, 128), 30)]  # centres 58 px apart: discs overlap by 2 px


def disc_map(discs, size: int = 256) -> np.ndarray:
    truth = np.zeros((size, size), np.int32)
    for i, (centre, radius) in enumerate(discs):
        cv2.circle(truth, centre, radius, i + 1, -1)
    return truth


@pytest.mark.parametrize("method", ["unet", "dilated-unet-crf"])
def test_network_shapes_and_size(method):
    network = NETWORKS[method].build().eval()
    with torch.no_grad():
        out = network(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, NETWORKS[method].network["classes"], 64, 64)
    # a few MB once stored in fp16
    assert sum(p.numel() for p in network.parameters()) * 2 < 4e6
    assert len(network.atrous) == len(NETWORKS[method].network["atrous"])


def test_network_rejects_bad_settings():
    with pytest.raises(ValueError, match="width"):
        UNet(width=0)


@pytest.mark.parametrize("discs", [SEPARATED, TOUCHING], ids=["separated", "touching"])
def test_unet_separation_stage(discs):
    truth = disc_map(discs)
    # a network's soft probability map: the blurred truth
    foreground = cv2.GaussianBlur((truth > 0).astype(np.float32), (0, 0), 2.0)
    labels = separate_instances(foreground, threshold=0.5, h_px=2.0, min_area_px=30)
    assert len(np.unique(labels)) - 1 == len(discs)
    assert best_ious(truth, labels).min() > 0.85


def test_chan_vese_reopens_a_seam_the_crf_bridged():
    truth = disc_map(TOUCHING)
    grey = np.where(truth > 0, 190, 60).astype(np.uint8)
    # touching particles in an SEM image: a dark seam where they meet
    cv2.line(grey, (129, 90), (129, 166), 60, 3)
    grey = np.clip(grey + np.random.default_rng(0).normal(0, 4, grey.shape), 0, 255).astype(np.uint8)
    bridged = cv2.dilate((truth > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert cv2.connectedComponents(bridged.view(np.uint8))[0] - 1 == 1
    labels = separate_chan_vese(grey, bridged, chan_vese_iterations=30, chan_vese_smoothing=0, band_px=2, min_area_px=30)
    assert len(np.unique(labels)) - 1 == 2
    assert best_ious(truth, labels).min() > 0.85


def test_crf_improves_a_noisy_probability_map():
    rng = np.random.default_rng(1)
    truth = disc_map(SEPARATED + TOUCHING) > 0
    image = np.clip(np.where(truth, 180, 70) + rng.normal(0, 15, truth.shape), 0, 255).astype(np.uint8)
    logit = np.where(truth, 1.0, -1.0) + 2.0 * cv2.GaussianBlur(rng.normal(0, 3, truth.shape), (0, 0), 2)
    p = (1 / (1 + np.exp(-logit))).astype(np.float32)
    q = dense_crf(np.stack([1 - p, p]), image)
    assert q.shape == (2, *truth.shape) and np.allclose(q.sum(0), 1, atol=1e-4)

    def iou(mask):
        return (mask & truth).sum() / (mask | truth).sum()

    assert iou(p > 0.5) < 0.8 and iou(q[1] > 0.5) > 0.95
    # no pairwise terms: the marginals are the network's probabilities
    assert np.allclose(dense_crf(np.stack([1 - p, p]), image, DenseCRFConfig(iterations=0))[1], p, atol=1e-5)


def _random_discs(rng: np.random.Generator, n: int, size: int = 256) -> list:
    """n separated discs ((x, y), radius), at least 4 px apart."""
    discs: list = []
    while len(discs) < n:
        radius = int(rng.integers(14, 26))
        centre = tuple(int(v) for v in rng.integers(radius + 2, size - radius - 2, 2))
        if all(np.hypot(centre[0] - c[0], centre[1] - c[1]) > radius + r + 4 for c, r in discs):
            discs.append((centre, radius))
    return discs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Both methods' networks trained for a few seconds on 16 drawn images of separated bright discs
    (``ide train``'s loop at a 128-px canvas), exported as bundles: method -> bundle directory."""
    from PIL import Image

    from imagedataextractor.train import TrainConfig, train
    from imagedataextractor.train.export import export_checkpoint

    root = tmp_path_factory.mktemp("discs")
    (root / "images").mkdir()
    (root / "segmaps").mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        image, truth = draw_discs(_random_discs(rng, 5), bright=True, seed=i)
        Image.fromarray(image).save(root / "images" / f"d{i}.png")
        Image.fromarray(truth.astype(np.uint16)).save(root / "segmaps" / f"d{i}.png")
    (root / "train.csv").write_text("\n".join(f"d{i}" for i in range(16)) + "\n")
    bundles = {}
    for method in NETWORKS:
        run = root / f"run-{method}"
        train(TrainConfig(data=str(root), out_dir=str(run), epochs=6, crop=64, canvas=128, batch=4, lr=3e-3,
                          val_fraction=0.0, method=method), progress=False)
        bundles[method] = export_checkpoint(run / "last.pt", root / f"bundle-{method}").path
    return bundles


@pytest.mark.parametrize("method", ["unet", "dilated-unet-crf"])
def test_trained_method_finds_separated_discs(method, trained):
    image, truth = draw_discs(SEPARATED, bright=True)
    result = segment(image, method=method, keep_border=True, bpartis=BPartISConfig(model=str(trained[method])))
    assert result.method == method and result.labels.shape == truth.shape and result.labels.dtype == np.uint16
    assert result.n_instances == len(SEPARATED) and len(result.scores) == result.n_instances
    assert best_ious(truth, result.labels).min() > 0.75
    assert (result.scores > 0.5).all()


def test_trained_unet_splits_touching_discs(trained):
    # trained on separated discs only: the network merges the pair, the watershed splits it
    image, truth = draw_discs(TOUCHING, bright=True)
    result = segment_unet(image, config=UNetConfig(model=trained["unet"]))
    assert result.n_instances == 2 and best_ious(truth, result.labels).min() > 0.75


@pytest.mark.parametrize("method", ["unet", "dilated-unet-crf"])
def test_shipped_bundles_load_and_segment(method):
    bundle, network = load_learned(method)
    assert bundle.name == NETWORKS[method].default_model and bundle.verify()
    assert bundle.weights_path.stat().st_size < 5e6 and not network.training
    image, _ = draw_discs(SEPARATED, bright=True)
    result = segment(image, method=method)
    assert result.labels.shape == image.shape[:2] and result.details["model_sha256"] == bundle.config["sha256"]
    assert result.scores is not None and len(result.scores) == result.n_instances
    assert set(bundle.config["inference"]) <= set(result.details)


def test_model_option_and_architecture_check():
    bundle, _ = load_learned("unet")
    image, _ = draw_discs(SEPARATED, bright=True)
    with pytest.raises(ModelError, match="architecture"):
        segment_dilated_unet_crf(image, config=DilatedUNetCRFConfig(model=bundle.path))
    with pytest.raises(ModelError, match="architecture"):
        segment(image, method="bpartis", bpartis=BPartISConfig(model=str(bundle.path)))
    assert {"unet", "dilated-unet-crf"} <= set(METHODS)


def test_docstring_examples_run():
    import doctest

    import imagedataextractor.segment.learned.crf as crf_module
    import imagedataextractor.segment.learned.dilated_unet_crf as dilated_module
    import imagedataextractor.segment.learned.unet as unet_module

    for module in (crf_module, unet_module, dilated_module):
        assert doctest.testmod(module).failed == 0
