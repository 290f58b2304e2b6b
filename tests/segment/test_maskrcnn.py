"""Mask R-CNN (the optional ``maskrcnn`` extra): the TiO2 paper's settings, inference on a small
image, a short training run on drawn discs, the shipped bundle, and a clear error without torchvision.

Tests that need torchvision skip without it; CI runs them in a second environment with the extra
(see .ci/run).
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from imagedataextractor.cli import main
from imagedataextractor.errors import ModelError
from imagedataextractor.segment import segment
from imagedataextractor.segment.maskrcnn import INSTALL_COMMAND, paste_instances

SEPARATED = [((20, 22), 9), ((62, 20), 8), ((40, 58), 10), ((96, 40), 9), ((100, 96), 11), ((24, 100), 8)]
LARGER = [((60, 60), 20), ((180, 55), 16), ((120, 130), 22), ((55, 190), 18), ((190, 190), 24)]  # on 256 x 256


@pytest.fixture(scope="module")
def torchvision():
    return pytest.importorskip("torchvision", reason=f"needs the optional extra 'maskrcnn' (torchvision): {INSTALL_COMMAND}")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a busy machine more threads made these small steps ~10x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def draw_discs(discs, size=(128, 128), *, dark: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Bright (or ``dark``) discs ((x, y), radius) on a noisy background: (H, W, 3) uint8 and the
    instance map."""
    truth = np.zeros(size, np.int32)
    for i, (centre, radius) in enumerate(discs):
        cv2.circle(truth, centre, radius, i + 1, -1)
    particle, background = (50.0, 200.0) if dark else (200.0, 50.0)
    grey = np.where(truth > 0, particle, background) + np.random.default_rng(0).normal(0, 4, size)
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2), truth


def test_missing_torchvision_gives_a_one_line_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision now fails, installed or not
    image, _ = draw_discs(SEPARATED)
    with pytest.raises(ModelError) as error:
        segment(image, method="maskrcnn")
    message = str(error.value)
    assert "\n" not in message and "'maskrcnn'" in message and message.endswith(INSTALL_COMMAND)
    assert INSTALL_COMMAND.startswith("pip install torch==2.14.1 torchvision==0.29.1 && ")
    Image.fromarray(image).save(tmp_path / "discs.png")
    for command in (["segment", str(tmp_path / "discs.png"), "--out", str(tmp_path / "m.png"), "--method", "maskrcnn"],
                    ["train", "--method", "maskrcnn", "--data", str(tmp_path), "--out", str(tmp_path / "run")]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1 and INSTALL_COMMAND in result.output and "Traceback" not in result.output


def test_paste_instances_orders_by_score_and_resolves_overlaps():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [16, 16, 20, 20]], np.float32)
    masks = np.ones((3, 8, 8), np.float32)
    labels, scores = paste_instances(boxes, masks, np.array([0.6, 0.9, 0.5], np.float32), (20, 20))
    assert labels.dtype == np.uint16 and labels.shape == (20, 20)
    assert list(scores) == pytest.approx([0.9, 0.6, 0.5])
    assert (labels[5:15, 5:15] == 1).all()  # the higher-scored box wins the overlap
    assert [np.count_nonzero(labels == k) for k in (1, 2, 3)] == [100, 75, 16]
    inside = np.array([[0, 0, 10, 10], [2, 2, 6, 6]], np.float32)
    labels, scores = paste_instances(inside, masks[:2], np.array([0.9, 0.1], np.float32), (20, 20))
    assert labels.max() == 1 and list(scores) == pytest.approx([0.9])  # a detection covered by a better one is dropped


def test_model_has_the_tio2_paper_settings(torchvision):
    import torch

    from imagedataextractor.segment.maskrcnn import MaskRCNNArch, build_maskrcnn

    model = build_maskrcnn(MaskRCNNArch())
    assert model.rpn.anchor_generator.sizes == ((8,), (16,), (32,), (64,), (96,))
    assert model.roi_heads.detections_per_img >= 512 and model.rpn._post_nms_top_n["testing"] >= 512
    assert model.roi_heads.nms_thresh == 0.3 and model.roi_heads.score_thresh == 0.5
    assert model.roi_heads.mask_roi_pool.output_size == (28, 28)
    assert model.roi_heads.mask_predictor(torch.zeros(1, 64, 28, 28)).shape[-2:] == (56, 56)
    with pytest.raises(ModelError, match="backbone"):
        MaskRCNNArch(backbone="vgg16")


def _random_bundle(tmp_path):
    from imagedataextractor.segment.maskrcnn import MaskRCNNArch, build_maskrcnn, write_maskrcnn_bundle

    # few detections: an untrained head scores everything alike, and each detection costs a mask
    settings = MaskRCNNArch(input_size=128, detections_per_image=20)
    return write_maskrcnn_bundle(build_maskrcnn(settings).state_dict(), settings, tmp_path / "random", {"name": "random"})


def test_forward_gives_an_instance_map_at_input_size_with_scores(torchvision, tmp_path):
    import torch

    from imagedataextractor.segment.maskrcnn import MaskRCNNConfig, segment_maskrcnn

    torch.manual_seed(0)
    bundle = _random_bundle(tmp_path)
    assert bundle.verify() and bundle.config["arch"] == "maskrcnn-fpn-v1"
    image, _ = draw_discs(SEPARATED, size=(100, 140))
    result = segment_maskrcnn(image, config=MaskRCNNConfig(model=str(bundle.path), score_threshold=0.0))
    assert result.labels.dtype == np.uint16 and result.labels.shape == (100, 140)
    assert result.n_instances > 0 and result.scores.shape == (result.n_instances,)
    assert set(np.unique(result.labels)) == set(range(result.n_instances + 1))
    assert ((result.scores >= 0) & (result.scores <= 1)).all() and (np.diff(result.scores) <= 0).all()
    assert result.method == "maskrcnn" and result.details["score_threshold"] == 0.0


def test_a_few_training_steps_on_discs_reduce_the_loss(torchvision):
    import torch

    from imagedataextractor.segment.maskrcnn import MaskRCNNArch, build_maskrcnn
    from imagedataextractor.train.maskrcnn import instance_targets

    torch.manual_seed(0)
    image, truth = draw_discs(SEPARATED)
    target = instance_targets(torch.from_numpy(truth).long())
    assert len(target["boxes"]) == len(SEPARATED) and target["masks"].shape == (len(SEPARATED), 128, 128)
    (x0, y0), radius = SEPARATED[0]
    assert target["boxes"][0].tolist() == [x0 - radius, y0 - radius, x0 + radius + 1, y0 + radius + 1]
    model = build_maskrcnn(MaskRCNNArch(input_size=128)).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    losses = []
    for _ in range(6):
        loss = sum(model([x], [target]).values())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert np.mean(losses[-2:]) < 0.7 * np.mean(losses[:2])


def test_training_can_start_from_a_users_imagenet_weights(torchvision, tmp_path):
    import torch

    from imagedataextractor.segment.maskrcnn import MaskRCNNArch, build_maskrcnn
    from imagedataextractor.train.maskrcnn import initialise

    classifier = torchvision.models.mobilenet_v3_small(weights=None)  # stands in for a downloaded ImageNet file
    torch.save(classifier.state_dict(), tmp_path / "mobilenet_v3_small-imagenet.pth")
    model = build_maskrcnn(MaskRCNNArch())
    body = model.backbone.body.state_dict()
    assert initialise(model, str(tmp_path / "mobilenet_v3_small-imagenet.pth")) == len(body)
    assert torch.equal(model.backbone.body.state_dict()["0.0.weight"], classifier.features[0][0].weight)
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "foreign.pth")
    with pytest.raises(ModelError, match="foreign.pth"):
        initialise(model, str(tmp_path / "foreign.pth"))


def test_training_run_exports_a_bundle_that_segments(torchvision, tmp_path):
    from imagedataextractor.models.registry import read_bundle
    from imagedataextractor.segment.maskrcnn import MaskRCNNArch, MaskRCNNConfig, segment_maskrcnn
    from imagedataextractor.train import TrainConfig
    from imagedataextractor.train.maskrcnn import export_maskrcnn, train_maskrcnn

    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "segmaps").mkdir()
    for i in range(3):
        image, truth = draw_discs(SEPARATED[i:] + SEPARATED[:i])
        Image.fromarray(image).save(root / "images" / f"img{i}.png")
        Image.fromarray(truth.astype(np.uint16)).save(root / "segmaps" / f"img{i}.png")
    (root / "train.csv").write_text("img0\nimg1\nimg2\n")
    config = TrainConfig(data=str(root), out_dir=str(tmp_path / "run"), epochs=1, crop=64, canvas=128, batch=3, lr=1e-3, val_fraction=0.0)
    best = train_maskrcnn(config, arch=MaskRCNNArch(detections_per_image=20), progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert best.exists() and len(history) == 1 and np.isfinite(history[0]["train_loss"])
    bundle = export_maskrcnn(best, tmp_path / "bundle", name="tiny")
    assert read_bundle(bundle.path, arch="maskrcnn-fpn-v1").verify()
    assert bundle.config["network"]["input_size"] == 128 and bundle.config["network"]["detections_per_image"] == 20
    assert bundle.config["training"]["epochs"] == 1 and bundle.config["method"] == "maskrcnn"
    result = segment_maskrcnn(draw_discs(SEPARATED)[0], config=MaskRCNNConfig(model=str(bundle.path), score_threshold=0.0))
    assert result.labels.shape == (128, 128)


def test_shipped_bundle_loads_and_segments(torchvision):
    from imagedataextractor.segment.maskrcnn import DEFAULT_MODEL, load_maskrcnn

    model, arch, bundle = load_maskrcnn()
    assert bundle.name == DEFAULT_MODEL and bundle.verify() and arch.anchor_sizes == (8, 16, 32, 64, 96)
    assert bundle.weights_path.stat().st_size < 8_000_000 and not model.training
    norms = [m for m in model.modules() if m.__class__.__name__ == "BatchNorm2d"]
    assert norms and all(m.running_mean is None for m in norms)  # each image's own statistics
    image, truth = draw_discs(LARGER, (256, 256), dark=True)
    result = segment(image, method="maskrcnn", keep_border=True)
    assert result.labels.shape == image.shape[:2] and result.scores.shape == (result.n_instances,)
    assert result.details["model"] == DEFAULT_MODEL
    # every disc is found (IoU > 0.5 with some instance); this short-trained model also adds false positives
    overlap = np.zeros((len(LARGER) + 1, result.n_instances + 1), np.int64)
    np.add.at(overlap, (truth.ravel(), result.labels.ravel().astype(np.int64)), 1)
    union = overlap.sum(1)[1:, None] + overlap.sum(0)[None, 1:] - overlap[1:, 1:]
    assert ((overlap[1:, 1:] / union).max(axis=1) > 0.5).all()
