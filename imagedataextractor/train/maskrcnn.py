"""Training Mask R-CNN (``ide train --method maskrcnn``) on EMPS-layout data.

Mask R-CNN computes its own losses from boxes and masks (RPN objectness and box regression, box
classification and regression, mask cross-entropy), so it has its own loop rather than a
:class:`~imagedataextractor.train.tasks.TrainTask`; data, crops, augmentation, validation split,
checkpoints and history follow :func:`~imagedataextractor.train.loop.train`.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from tqdm import tqdm

from ..datasets import load_split
from ..errors import ModelError
from ..models.registry import ModelBundle
from ..segment.maskrcnn import (
    ARCHITECTURE,
    DEFAULT_MODEL,
    MaskRCNNArch,
    build_maskrcnn,
    imagenet_to_maskrcnn,
    require_torchvision,
    use_image_statistics,
    write_maskrcnn_bundle,
)
from .data import AugmentedCrops, load_resized
from .bundle import training_summary
from .loop import EpochRecord, TimeLimit, TrainConfig, epoch_lr, save_epoch, should_stop, split_by_publication
from .tasks import load_partial_weights, read_state_dict

log = logging.getLogger(__name__)

#: Default learning rate (AdamW); with the warm-up and gradient clipping it trained stably from scratch on EMPS.
LR = 1e-3
#: Instances smaller than this (px) are left out of the targets: slivers cut off by a crop.
MIN_AREA = 4
#: Iterations of linear learning-rate warm-up, so the randomly initialised heads do not diverge.
WARMUP = 100


def instance_targets(labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mask R-CNN targets from an (H, W) integer instance map (0 = background): ``boxes`` (N, 4)
    float x0, y0, x1, y1 in px (x1, y1 exclusive), ``labels`` (N,) all 1 (particle) and ``masks``
    (N, H, W) uint8. Instances under :data:`MIN_AREA` px are dropped; N may be 0."""
    ids = torch.unique(labels)
    masks = labels.unsqueeze(0) == ids[ids > 0].view(-1, 1, 1)
    masks = masks[masks.flatten(1).sum(1) >= MIN_AREA]
    rows, cols = masks.any(2), masks.any(1)
    height, width = labels.shape
    steps_y, steps_x = torch.arange(height), torch.arange(width)
    boxes = torch.stack([
        torch.where(cols, steps_x, width).amin(1), torch.where(rows, steps_y, height).amin(1),
        torch.where(cols, steps_x, -1).amax(1) + 1, torch.where(rows, steps_y, -1).amax(1) + 1,
    ], dim=1).float()
    return {"boxes": boxes, "labels": torch.ones(len(masks), dtype=torch.int64), "masks": masks.to(torch.uint8)}


def initialise(model: torch.nn.Module, source: str) -> int:
    """Start ``model`` from ``source``: a Mask R-CNN bundle (name or directory), or a local file
    holding torchvision's ImageNet weights of the backbone's classifier (e.g. ``resnet18-f37072fd.pth``)
    or a Mask R-CNN state_dict such as torchvision's COCO ``maskrcnn_resnet50_fpn`` (tensors whose
    name and shape fit are copied). Returns how many tensors were copied."""
    from ..models import resolve

    path = Path(source)
    if not path.is_file():
        path = resolve(source, arch=ARCHITECTURE).weights_path
    state = read_state_dict(path)
    if not any(key.startswith("backbone.") for key in state):
        state = imagenet_to_maskrcnn(state)
    return load_partial_weights(model, state, source)  # copying casts fp16 bundle weights to float32


@torch.no_grad()
def validation_loss(model: torch.nn.Module, images, labels) -> float:
    """Mean summed Mask R-CNN loss over whole canvas images, one at a time, batch norms using each
    image's statistics as at inference (see :func:`use_image_statistics`)."""
    model.train()
    norms = [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)]
    running = use_image_statistics(model)
    losses = []
    for image, instance_map in zip(images, labels):
        target = instance_targets(torch.from_numpy(instance_map).long())
        x = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
        losses.append(float(sum(model([x], [target]).values())))
    for module, (mean, var) in zip(norms, running):
        module.running_mean, module.running_var = mean, var
    return sum(losses) / max(len(losses), 1)


def train_maskrcnn(
    config: TrainConfig,
    *,
    arch: MaskRCNNArch = MaskRCNNArch(),
    resume: str | Path | None = None,
    init_weights: str | None = None,
    progress: bool = True,
) -> Path:
    """Train Mask R-CNN on an EMPS-layout directory; returns the path of the best checkpoint.

    Images are resized to ``config.canvas`` px (square, as inference scales an image's short side
    to ``arch.input_size``, which is set to the canvas), random ``config.crop`` px crops with
    flips, right-angle rotations, zoom and colour jitter are fed at that scale; images without
    particles are skipped. Writes ``last.pt`` each epoch, ``best.pt`` when the validation loss (on
    held-out publications) improves, and ``history.json``; ``resume`` continues a ``last.pt``,
    ``init_weights`` starts from pretrained weights (see :func:`initialise`); ``config.time_limit``
    and ``config.patience`` stop it between epochs as in :func:`~imagedataextractor.train.loop.train`.
    """
    time_limit = TimeLimit(config)
    require_torchvision()
    config = replace(config, method="maskrcnn")
    if config.precision != "fp32":
        raise ModelError(f"maskrcnn trains in fp32 only (got precision {config.precision!r})")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arch = replace(arch, input_size=config.canvas)
    train_samples, val_samples = split_by_publication(load_split(config.data, config.split), config.val_fraction)
    cache = out_dir / "cache"
    train_images, train_labels = load_resized(train_samples, config.canvas, cache)
    val_images, val_labels = load_resized(val_samples, config.canvas, cache) if val_samples else ([], [])
    annotated = train_labels.reshape(len(train_labels), -1).max(1) > 0
    train_images, train_labels = train_images[annotated], train_labels[annotated]
    log.info("training on %d images (%d without particles skipped), validating on %d",
             len(train_images), int((~annotated).sum()), len(val_images))  # type: ignore[arg-type]  # empty validation sets are ([], []): lists, sized

    model = build_maskrcnn(arch).to(config.device)
    # crops and canvas images arrive at the inference scale: no resizing inside the model
    model.transform._skip_resize = True  # type: ignore[union-attr]  # torch types a submodule reached by attribute as Tensor | Module
    if init_weights:
        initialise(model, init_weights)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr)
    dataset = AugmentedCrops(train_images, train_labels, config.crop, seed=config.seed)
    history: list[dict] = []
    start_epoch, step = 0, 0
    if resume:
        state = torch.load(resume, map_location=config.device, weights_only=False)
        if state.get("network") is None or "optimiser" not in state:
            raise ModelError(f"{resume}: not a Mask R-CNN checkpoint written by 'ide train --method maskrcnn'")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        dataset.generator.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, history, step = state["epoch"], state["history"], state["step"]
        log.info("resumed from %s at epoch %d", resume, start_epoch)
    best = min((h["val_loss"] for h in history), default=float("inf"))
    order = torch.Generator().manual_seed(config.seed + start_epoch)

    for epoch in range(start_epoch, config.epochs):
        if should_stop(config, time_limit, history, epoch, out_dir):
            break
        started = time.perf_counter()
        lr = epoch_lr(config, epoch)
        model.train()
        total, count = 0.0, 0
        batches = torch.randperm(len(dataset), generator=order).split(config.batch)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for indices in bar:
            items = [dataset[int(i)] for i in indices]
            images = [image.to(config.device) for image, _ in items]
            targets = [{k: v.to(config.device) for k, v in instance_targets(labels).items()} for _, labels in items]
            for group in optimiser.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / WARMUP)
            loss = sum(model(images, targets).values())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimiser.step()
            step += 1
            total, count = total + loss.item() * len(images), count + len(images)
            bar.set_postfix(loss=f"{total / count:.4f}")
        val = validation_loss(model, val_images, val_labels) if len(val_images) else total / max(count, 1)  # type: ignore[arg-type]  # empty validation sets are ([], []): lists, sized
        time_limit.end_epoch(history, EpochRecord(epoch + 1, total / max(count, 1), val, time.perf_counter() - started, lr))
        payload = {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "epoch": epoch + 1,
            "step": step,
            "history": history,
            "config": asdict(config),
            "network": asdict(arch),
            "init_weights": init_weights,
            "data_rng": dataset.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        best = save_epoch(out_dir, payload, val, best)
    return out_dir / "best.pt"


def export_maskrcnn(checkpoint: str | Path, out_dir: str | Path, *, name: str = DEFAULT_MODEL) -> ModelBundle:
    """Write the weights of a ``best.pt``/``last.pt`` from :func:`train_maskrcnn` as a model bundle
    (fp16 weights, the network settings and the training provenance)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("network") is None:
        raise ModelError(f"{checkpoint}: not a Mask R-CNN checkpoint written by 'ide train --method maskrcnn'")
    trained = state["config"]
    config = {
        "name": name,
        "version": f"epoch{state['epoch']}-{datetime.date.today():%Y%m%d}",
        "method": "maskrcnn",
        "input_size": trained["canvas"],
        "training": {**training_summary(state), "iterations": state["step"], "init_weights": state.get("init_weights")},
    }
    return write_maskrcnn_bundle(state["model"], MaskRCNNArch.from_json(state["network"]), out_dir, config)
