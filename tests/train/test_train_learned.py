"""``ide train --method unet|dilated-unet-crf``: targets, augmentation, tiny runs, resume, export, init weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from imagedataextractor.cli import main
from imagedataextractor.errors import ModelError
from imagedataextractor.models import list_models
from imagedataextractor.models.registry import read_bundle
from imagedataextractor.segment.learned import NETWORKS, load_learned
from imagedataextractor.train import TrainConfig, train
from imagedataextractor.train.data import AugmentedCrops
from imagedataextractor.train.tasks import SEPARATION_WEIGHT, TRAINABLE, separation_targets, training_task


def test_separation_targets_mark_where_particles_touch():
    labels = torch.zeros(1, 8, 10, dtype=torch.long)
    labels[0, 2:6, 1:5], labels[0, 2:6, 5:9], labels[0, 7, 0] = 1, 2, 3
    target, weight = separation_targets(labels)
    border = torch.zeros(8, 10, dtype=torch.bool)
    border[2:6, 4:6] = True
    assert torch.equal(target[0] > 0, (labels[0] > 0) & ~border)
    assert torch.equal(weight[0] == SEPARATION_WEIGHT, border) and weight[0][~border].eq(1).all()


def test_rotation_and_distortion_keep_labels_on_the_particles():
    rng = np.random.default_rng(0)
    labels = np.zeros((1, 96, 96), np.int32)
    yy, xx = np.mgrid[:96, :96]
    for k, (cy, cx) in enumerate(rng.integers(15, 80, (6, 2)), start=1):
        labels[0][(yy - cy) ** 2 + (xx - cx) ** 2 < 60] = k
    images = np.where(labels[..., None] > 0, 220, 30).astype(np.uint8).repeat(3, axis=3)
    crops = AugmentedCrops(images, labels, 48, seed=1, jitter=0.0, rotate=True, distort_px=4.0)
    for _ in range(8):
        image, target = crops[0]
        assert image.shape == (3, 48, 48) and target.shape == (48, 48) and target.dtype == torch.int64
        bright = image[0] > 0.5
        assert (bright == (target > 0)).float().mean() > 0.97
        assert set(target.unique().tolist()) <= set(range(7))


@pytest.mark.parametrize("method", ["unet", "dilated-unet-crf"])
def test_train_resume_export_and_load(method, tiny_dataset, tmp_path):  # noqa: F811
    config = TrainConfig(data=str(tiny_dataset), out_dir=str(tmp_path / "run"), epochs=1, crop=32, canvas=64, batch=2,
                         val_fraction=0.0, lr=1e-3, method=method)
    train(config, progress=False)
    train(TrainConfig(**{**config.__dict__, "epochs": 2}), resume=tmp_path / "run" / "last.pt", progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all(np.isfinite(h["train_loss"]) for h in history)
    from imagedataextractor.train.export import export_checkpoint

    bundle = export_checkpoint(tmp_path / "run" / "last.pt", tmp_path / "bundle")
    assert bundle.name == f"{method}-emps" and bundle.config["arch"] == NETWORKS[method].arch
    assert read_bundle(bundle.path, arch=None).verify() and bundle.config["training"]["epochs"] == 2
    weights = torch.load(bundle.weights_path, weights_only=True)
    assert weights["head.weight"].dtype == torch.float16
    _, network = load_learned(method, bundle.path)
    assert next(network.parameters()).dtype == torch.float32
    with pytest.raises(ModelError, match="checkpoint of method"):
        other = "unet" if method != "unet" else "dilated-unet-crf"
        train(TrainConfig(**{**config.__dict__, "epochs": 3, "method": other}), resume=tmp_path / "run" / "last.pt", progress=False)


def test_init_weights_from_a_state_dict_file(tmp_path):
    task = training_task("unet")
    source = task.build()
    encoder_only = {k: v for k, v in source.state_dict().items() if k.startswith("encoder.")}
    torch.save(encoder_only, tmp_path / "encoder.pt")
    network = task.build()
    task.initialise(network, str(tmp_path / "encoder.pt"))
    state = network.state_dict()
    assert all(torch.equal(state[k], v) for k, v in encoder_only.items())
    assert not torch.equal(state["head.weight"], source.state_dict()["head.weight"])
    torch.save({"backbone.conv1.weight": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ModelError, match="no tensor matches"):
        task.initialise(network, str(tmp_path / "foreign.pt"))
    with pytest.raises(ModelError, match="architecture"):
        task.initialise(network, "bpartis-emps")


def test_cli_trains_a_unet_within_a_time_limit_resumes_and_segments_with_it(tiny_dataset, tmp_path):  # noqa: F811
    runner = CliRunner()
    common = ["train", "--method", "unet", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--size", "32", "--batch", "2"]
    first = runner.invoke(main, [*common, "--epochs", "2", "--time-limit", "1e-6", "--patience", "5"])  # stops after its first epoch
    assert first.exit_code == 0, first.output
    checkpoint = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert checkpoint["config"]["method"] == "unet" and checkpoint["config"]["lr"] == 1e-4
    assert checkpoint["epoch"] == 1 and checkpoint["config"]["time_limit"] == 1e-6 and checkpoint["config"]["patience"] == 5
    second = runner.invoke(main, [*common, "--epochs", "2", "--resume", str(tmp_path / "run" / "last.pt"),
                                  "--export", str(tmp_path / "bundle")])
    assert second.exit_code == 0, second.output
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2]
    image = tiny_dataset / "images" / "img0.png"
    out = runner.invoke(main, ["segment", str(image), "--method", "unet", "--model", str(tmp_path / "bundle"),
                               "--out", str(tmp_path / "labels.png"), "--json"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "labels.png").exists() and "n_particles" in out.output


def test_trainable_methods_and_listing():
    assert TRAINABLE == ("bpartis", "unet", "dilated-unet-crf")
    with pytest.raises(ValueError, match="cannot train"):
        training_task("watershed")
    assert {"unet-emps", "dilated-unet-crf-emps"} <= {b.name for b in list_models()}
