"""Training loop: resumable, deterministic for a given seed, validated on held-out publications."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..datasets import Sample, load_split
from ..errors import ModelError, SettingsError
from ..segment.embedding import CANVAS
from .data import AugmentedCrops, load_resized
from .losses import bpartis_loss
from .tasks import training_task

log = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run. Sizes in pixels; ``crop`` is cut from images resized to ``canvas``.
    ``method``: the network to train (:data:`~imagedataextractor.train.tasks.TRAINABLE`)."""

    data: str
    out_dir: str = "runs/bpartis"
    epochs: int = 300
    crop: int = 256
    canvas: int = CANVAS
    batch: int = 5
    lr: float = 3e-4
    device: str = "cpu"
    seed: int = 0
    val_fraction: float = 0.1  # publications held out for validation; 0: none, val_loss is then the training loss
    threads: int = 0  # 0: leave torch's default
    workers: int = 0  # DataLoader processes preparing augmented batches (0: in the training process)
    precision: str = "fp32"  # "bf16": bfloat16 autocast for the network, about 1.7x faster on AVX512-BF16 CPUs
    lr_schedule: str = "constant"  # or "poly": lr * (1 - epoch / epochs) ** 0.9, as the original BPartIS training
    split: str = "train"
    method: str = "bpartis"
    time_limit: float = 0.0  # seconds from the start of train(); 0: none (see TimeLimit)
    patience: int = 0  # stop after this many epochs without a lower validation loss; 0: never (see stalled)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    seconds: float
    lr: float = field(default=0.0)


LR_SCHEDULES = ("constant", "poly")


def epoch_lr(config: TrainConfig, epoch: int) -> float:
    """Learning rate of 0-based ``epoch``: ``config.lr`` throughout ("constant"), or decayed as
    ``lr * (1 - epoch / epochs) ** 0.9`` ("poly", the schedule of the original BPartIS training,
    from SpatialEmbeddings). A resumed run with a new ``epochs`` decays toward that end."""
    if config.lr_schedule == "constant":
        return config.lr
    if config.lr_schedule == "poly":
        return config.lr * (1.0 - epoch / config.epochs) ** 0.9
    raise SettingsError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, not {config.lr_schedule!r}")


class TimeLimit:
    """``config.time_limit`` of a run (seconds from this object's creation; 0: none), and the end of
    each epoch (:meth:`end_epoch`): stop between epochs when another epoch as slow as the slowest so
    far would end past the limit. Every call of the training runs at least one epoch, so a run
    always moves on, and it stops where its checkpoints can be resumed."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.started = time.perf_counter()
        self.slowest = 0.0  # seconds of the slowest epoch of this call
        self.epochs = 0

    def end_epoch(self, history: list[dict], record: EpochRecord) -> None:
        """Note the epoch of ``record`` (its time for the limit), append it to ``history`` and log it."""
        self.slowest = max(self.slowest, record.seconds)
        self.epochs += 1
        history.append(asdict(record))
        log.info("epoch %d: train %.4f val %.4f (%.0f s)", record.epoch, record.train_loss, record.val_loss, record.seconds)

    def reached(self, epoch: int, out_dir: Path) -> bool:
        """Whether to stop before 0-based ``epoch`` (logged, with the checkpoint to resume from)."""
        if not self.config.time_limit or not self.epochs:
            return False
        if time.perf_counter() - self.started + self.slowest <= self.config.time_limit:
            return False
        log.warning("time limit of %.0f s: stopped after epoch %d of %d (continue with --resume %s)",
                    self.config.time_limit, epoch, self.config.epochs, out_dir / "last.pt")
        return True


def stalled(history: list[dict], patience: int) -> bool:
    """Whether the last ``patience`` epochs of ``history`` all failed to lower the validation loss
    below the best before them (early stopping; ``patience`` 0: never). Counted over the whole
    history, so a resumed run keeps its count."""
    if patience <= 0 or not history:
        return False
    losses = [h["val_loss"] for h in history]
    best_epoch = losses.index(min(losses))
    return len(losses) - 1 - best_epoch >= patience


def should_stop(config: TrainConfig, time_limit: TimeLimit, history: list[dict], epoch: int, out_dir: Path) -> bool:
    """Whether to stop before 0-based ``epoch``: the time limit (:meth:`TimeLimit.reached`) or no
    validation improvement for ``config.patience`` epochs (:func:`stalled`), logged."""
    if stalled(history, config.patience):
        best = min(history, key=lambda h: h["val_loss"])
        log.warning("no lower validation loss for %d epochs (best %.4f at epoch %d): stopped after epoch %d",
                    config.patience, best["val_loss"], best["epoch"], epoch)
        return True
    return time_limit.reached(epoch, out_dir)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: give each worker's copy of the dataset its own augmentation
    stream, seeded from the loader's per-epoch base seed (so runs stay deterministic for ``--seed``)
    instead of every worker repeating the same random crops."""
    info = torch.utils.data.get_worker_info()
    info.dataset.generator.manual_seed(info.seed)  # type: ignore[union-attr]  # called only in DataLoader workers, whose dataset is ours (has .generator)


def split_by_publication(samples: list[Sample], val_fraction: float) -> tuple[list[Sample], list[Sample]]:
    """Hold out whole publications (by DOI, else by name) for validation, deterministically."""

    def bucket(sample: Sample) -> float:
        key = (sample.doi or sample.name).encode()
        return int(hashlib.sha256(key).hexdigest()[:8], 16) / 0xFFFFFFFF

    val = [s for s in samples if bucket(s) < val_fraction]
    train = [s for s in samples if bucket(s) >= val_fraction]
    return (train, val) if train else (samples, [])


def save_epoch(out_dir: Path, payload: dict, val_loss: float, best: float) -> float:
    """Write ``last.pt`` (and ``best.pt`` when ``val_loss`` beats ``best``), ``history.json`` and
    the learning curve ``history.csv`` (one row per epoch: epoch, train_loss, val_loss, seconds, lr)
    from an epoch's checkpoint ``payload``; returns the new best validation loss."""
    _save(payload, out_dir / "last.pt")
    if val_loss < best:
        best = val_loss
        _save(payload, out_dir / "best.pt")
    history = payload["history"]
    (out_dir / "history.json").write_text(json.dumps(history, indent=1))
    with (out_dir / "history.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    return best


def _save(payload: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def validation_loss(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int, device: str, loss: LossFn = bpartis_loss
) -> float:
    """Mean ``loss`` over whole canvas images, dropout and BN in eval mode."""
    model.eval()
    losses = []
    for start in range(0, len(images), batch):
        x = images[start : start + batch].to(device).permute(0, 3, 1, 2).float() / 255.0
        y = labels[start : start + batch].to(device).long()
        losses.append(float(loss(model(x), y)) * len(x))
    return sum(losses) / max(len(images), 1)


def train(
    config: TrainConfig, *, resume: str | Path | None = None, init_weights: str | None = None, progress: bool = True
) -> Path:
    """Train ``config.method``'s network (BPartIS by default) on an EMPS-layout directory; returns
    the path of the best checkpoint.

    Writes ``last.pt`` after every epoch and ``best.pt`` whenever the validation loss improves, plus
    ``history.json``. ``resume`` continues from a ``last.pt`` (model, optimiser, RNG and epoch);
    ``init_weights`` (a model bundle name or directory; for the U-Net baselines also a state_dict
    file, of which every tensor matching by name and shape is used, e.g. pretrained encoder weights)
    starts from its weights with a fresh optimiser. With ``config.time_limit`` the run stops
    between epochs before it would pass that many seconds (:class:`TimeLimit`), for jobs on lent
    or queued machines with a wall-clock limit; with ``config.patience`` it stops once the
    validation loss has not improved for that many epochs (:func:`stalled`).
    """
    time_limit = TimeLimit(config)
    task = training_task(config.method)
    if torch.device(config.device).type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest convolutions once
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_samples, val_samples = split_by_publication(load_split(config.data, config.split), config.val_fraction)
    log.info("training on %d images, validating on %d", len(train_samples), len(val_samples))
    cache = out_dir / "cache"
    train_images, train_labels = load_resized(train_samples, config.canvas, cache)
    val_images, val_labels = load_resized(val_samples, config.canvas, cache) if val_samples else (None, None)

    # channels_last: the factorised 3x1/1x3 convs run about 15% faster in this layout on CPU
    model = task.build().to(config.device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack Module.to(memory_format=...), which exists
    if init_weights:
        task.initialise(model, init_weights)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    dataset = AugmentedCrops(train_images, train_labels, config.crop, seed=config.seed, **task.augmentation)
    history: list[dict] = []
    start_epoch = 0
    if resume:
        # on the CPU: the RNG states must stay CPU tensors; the optimiser moves its state to the parameters' device
        state = torch.load(resume, map_location="cpu", weights_only=False)
        if "model" not in state or "optimiser" not in state:
            raise ModelError(f"{resume}: not a training checkpoint written by 'ide train'")
        if state.get("config", {}).get("method", "bpartis") != config.method:
            raise ModelError(f"{resume}: a checkpoint of method {state['config'].get('method', 'bpartis')!r}, not {config.method!r}")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        dataset.generator.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, history = state["epoch"], state["history"]
        log.info("resumed from %s at epoch %d", resume, start_epoch)
    best = min((h["val_loss"] for h in history), default=float("inf"))
    loader = DataLoader(dataset, batch_size=config.batch, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(config.seed + start_epoch),
                        num_workers=config.workers, worker_init_fn=seed_worker if config.workers else None,
                        pin_memory=torch.device(config.device).type == "cuda")
    val_tensors = (torch.from_numpy(val_images), torch.from_numpy(val_labels)) if val_images is not None else None

    epoch_lr(config, start_epoch)  # an unknown schedule fails before the first epoch
    for epoch in range(start_epoch, config.epochs):
        if should_stop(config, time_limit, history, epoch, out_dir):
            break
        started = time.perf_counter()
        lr = epoch_lr(config, epoch)
        for group in optimiser.param_groups:
            group["lr"] = lr
        model.train()
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for images, labels in bar:
            images = images.to(config.device, memory_format=torch.channels_last, non_blocking=True)
            labels = labels.to(config.device, non_blocking=True)
            with torch.autocast(torch.device(config.device).type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
                outputs = model(images)
            loss = task.loss(outputs.float(), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total, count = total + loss.item() * len(images), count + len(images)
            bar.set_postfix(loss=f"{total / count:.4f}")
        val = validation_loss(model, *val_tensors, config.batch, config.device, task.loss) if val_tensors else total / count
        time_limit.end_epoch(history, EpochRecord(epoch + 1, total / max(count, 1), val, time.perf_counter() - started, lr))
        payload = {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "epoch": epoch + 1,
            "history": history,
            "config": asdict(config),
            "data_rng": dataset.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        best = save_epoch(out_dir, payload, val, best)
    return out_dir / "best.pt"
