"""A tiny training run: checkpoints, resume, export to a loadable bundle, CLI wiring."""

import csv
import json
import logging
from dataclasses import asdict

import numpy as np
import pytest
from click.testing import CliRunner

from imagedataextractor.cli import main
from imagedataextractor.errors import DatasetError
from imagedataextractor.segment.erfnet import load_network
from imagedataextractor.models.registry import read_bundle
from imagedataextractor.train import TrainConfig, train
from imagedataextractor.train.export import export_checkpoint
from imagedataextractor.train import loop
from imagedataextractor.train.loop import EpochRecord, TimeLimit, epoch_lr, stalled


def test_train_resume_and_export(tiny_dataset, tmp_path):
    config = TrainConfig(data=str(tiny_dataset), out_dir=str(tmp_path / "run"), epochs=1, crop=32, canvas=64, batch=2, val_fraction=0.0)
    best = train(config, progress=False)
    assert best.exists() and (tmp_path / "run" / "last.pt").exists()
    resumed = TrainConfig(**{**config.__dict__, "epochs": 2})
    train(resumed, resume=tmp_path / "run" / "last.pt", progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all(np.isfinite(h["train_loss"]) for h in history)
    bundle = export_checkpoint(tmp_path / "run" / "last.pt", tmp_path / "bundle")
    assert read_bundle(bundle.path).verify() and bundle.config["training"]["epochs"] == 2
    load_network(bundle)


def test_poly_schedule_decays_to_the_end_of_a_resumed_run(tiny_dataset, tmp_path):
    config = TrainConfig(data=str(tiny_dataset), out_dir=str(tmp_path / "run"), epochs=1, crop=32, canvas=64, batch=2,
                         val_fraction=0.0, lr=1e-3, lr_schedule="poly")
    assert epoch_lr(config, 0) == pytest.approx(1e-3)
    train(config, progress=False)
    longer = TrainConfig(**{**config.__dict__, "epochs": 4})  # resumed with a later end: decays toward it
    train(longer, resume=tmp_path / "run" / "last.pt", progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["lr"] for h in history] == pytest.approx([1e-3, 1e-3 * 0.75**0.9, 1e-3 * 0.5**0.9, 1e-3 * 0.25**0.9])
    bundle = export_checkpoint(tmp_path / "run" / "last.pt", tmp_path / "bundle")
    assert bundle.config["training"]["lr_schedule"] == "poly"
    assert epoch_lr(TrainConfig(data="", lr=1e-3), 10) == 1e-3  # constant by default
    with pytest.raises(ValueError, match="lr_schedule"):
        epoch_lr(TrainConfig(data="", lr_schedule="cosine"), 0)


def test_train_cli_rejects_a_non_dataset(tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--epochs", "1"])
    assert result.exit_code == 1 and "not a dataset directory" in result.output


def test_train_cli_val_fraction(tiny_dataset, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--epochs", "1", "--size", "32",
                                  "--batch", "2", "--val-fraction", "0", "--export", str(tmp_path / "bundle")])
    assert result.exit_code == 0, result.output
    assert read_bundle(tmp_path / "bundle").config["training"]["val_fraction"] == 0.0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[0]["val_loss"] == history[0]["train_loss"]  # no validation images: it follows the training loss
    rejected = runner.invoke(main, ["train", "--data", str(tiny_dataset), "--val-fraction", "0.9"])
    assert rejected.exit_code == 2 and "--val-fraction" in rejected.output


def test_split_file_must_exist(tiny_dataset):
    (tiny_dataset / "train.csv").unlink()
    with pytest.raises(DatasetError, match="train.csv"):
        train(TrainConfig(data=str(tiny_dataset), epochs=1), progress=False)


def _batches(dataset, workers: int) -> list:
    import torch
    from torch.utils.data import DataLoader

    from imagedataextractor.train.loop import seed_worker

    loader = DataLoader(dataset, batch_size=1, shuffle=False, num_workers=workers, worker_init_fn=seed_worker,
                        generator=torch.Generator().manual_seed(0))
    return [image for image, _ in loader]


def test_loader_workers_each_draw_their_own_reproducible_augmentations():
    from imagedataextractor.train.data import AugmentedCrops

    images = np.zeros((4, 32, 32, 3), np.uint8) + np.arange(32, dtype=np.uint8)[None, :, None, None] * 7  # same image 4 times
    labels = np.zeros((4, 32, 32), np.int32)
    first = _batches(AugmentedCrops(images, labels, 16, seed=0), workers=2)
    # worker 0 serves items 0 and 2, worker 1 items 1 and 3: a shared stream would repeat the same crop
    assert not np.array_equal(first[0].numpy(), first[1].numpy())
    again = _batches(AugmentedCrops(images, labels, 16, seed=0), workers=2)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, again, strict=True))


def test_training_with_loader_workers(tiny_dataset, tmp_path):
    config = TrainConfig(data=str(tiny_dataset), out_dir=str(tmp_path / "run"), epochs=1, crop=32, canvas=64, batch=2,
                         val_fraction=0.0, workers=2)
    train(config, progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])


def test_time_limit_stops_between_epochs_and_the_run_resumes(tiny_dataset, tmp_path, caplog):
    # a limit already passed: the one epoch every call runs, then a stop that names how to resume
    config = TrainConfig(data=str(tiny_dataset), out_dir=str(tmp_path / "run"), epochs=3, crop=32, canvas=64, batch=2,
                         val_fraction=0.0, time_limit=1e-6)
    with caplog.at_level(logging.WARNING, logger="imagedataextractor.train.loop"):
        best = train(config, progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1] and best.exists()
    assert "stopped after epoch 1 of 3" in caplog.text and "--resume" in caplog.text
    train(TrainConfig(**{**config.__dict__, "time_limit": 0.0}), resume=tmp_path / "run" / "last.pt", progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]


def _epoch(seconds: float) -> EpochRecord:
    return EpochRecord(epoch=1, train_loss=0.5, val_loss=0.4, seconds=seconds)


def test_time_limit_estimates_from_the_slowest_epoch(tmp_path):
    limit = TimeLimit(TrainConfig(data="", time_limit=100.0))
    assert not limit.reached(0, tmp_path)  # the first epoch always runs
    history: list[dict] = []
    limit.end_epoch(history, _epoch(500.0))
    assert history == [asdict(_epoch(500.0))]
    assert limit.reached(1, tmp_path)  # another 500-s epoch would pass 100 s
    limit = TimeLimit(TrainConfig(data="", time_limit=100.0))
    limit.end_epoch([], _epoch(10.0))
    assert not limit.reached(1, tmp_path)
    limit.started -= 95.0  # 95 s gone + a 10-s epoch > 100 s
    assert limit.reached(1, tmp_path)
    unlimited = TimeLimit(TrainConfig(data=""))
    unlimited.end_epoch([], _epoch(1e6))
    assert not unlimited.reached(1, tmp_path)  # 0: no limit


def test_stalled_counts_epochs_since_the_lowest_validation_loss():
    history = [{"epoch": i + 1, "val_loss": v} for i, v in enumerate([0.9, 0.5, 0.6, 0.5, 0.7])]
    assert stalled(history, 3)  # epochs 3-5 did not go below epoch 2's 0.5 (a tie is no improvement)
    assert not stalled(history, 4)
    assert not stalled(history, 0) and not stalled([], 1)
    assert not stalled(history[:2], 1)  # the last epoch is the best


def test_patience_stops_the_run_and_the_learning_curve_is_a_csv(tiny_dataset, tmp_path, monkeypatch, caplog):
    # a validation loss that never improves after the first epoch: with patience 2 the run ends after epoch 3
    monkeypatch.setattr(loop, "validation_loss", lambda *args: 1.0)
    config = TrainConfig(data=str(tiny_dataset), out_dir=str(tmp_path / "run"), epochs=10, crop=32, canvas=64, batch=2,
                         val_fraction=0.5, patience=2)
    with caplog.at_level(logging.WARNING, logger="imagedataextractor.train.loop"):
        train(config, progress=False)
    assert "no lower validation loss for 2 epochs (best 1.0000 at epoch 1): stopped after epoch 3" in caplog.text
    with (tmp_path / "run" / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and [float(r["val_loss"]) for r in rows] == [1.0] * 3
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "seconds", "lr"]
    # resumed, the count goes on over the stored history: no further epoch
    train(config, resume=tmp_path / "run" / "last.pt", progress=False)
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 3
