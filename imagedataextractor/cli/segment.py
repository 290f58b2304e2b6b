"""``ide segment``, ``ide train``, ``ide evaluate`` and ``ide models``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..segment.config import METHODS
from ._options import bpartis_config, bpartis_options, check_device


@click.command("segment")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Instance map to write (uint16 PNG, 0 = background).")
@click.option("--method", type=click.Choice(METHODS), default="bpartis", show_default=True, help="Segmentation method.")
@click.option("--mode", type=click.Choice(["bayesian", "discriminative"]), default=None, help="BPartIS mode (shortcut for --method bpartis-*).")
@bpartis_options
@click.option("--keep-border", is_flag=True, help="Keep particles touching the image border.")
@click.option("--uncertainty-out", type=click.Path(path_type=Path), default=None, help="Write the per-pixel uncertainty as a 16-bit PNG (scaled to log 2 = 65535).")
@click.option("--json", "as_json", is_flag=True, help="Print {n_particles, seconds} as JSON.")
def segment_command(image, out, method, mode, device, model, samples, tu, seed, precision, compile_activations, flips, keep_border,
                    uncertainty_out, as_json):
    """Segment the particles of IMAGE into an instance map at the input's size."""
    import math
    import time

    import numpy as np

    from ..imageio import read_image
    from ..segment.methods import segment

    if mode == "discriminative":
        method = "bpartis-discriminative"
    pixels = read_image(image)
    started = time.perf_counter()
    result = segment(pixels, method=method, keep_border=keep_border, bpartis=bpartis_config(model, samples, tu, seed, precision, compile_activations, device, flips))
    seconds = time.perf_counter() - started
    _write_png(out, result.labels.astype(np.uint16))
    if uncertainty_out is not None:
        if result.uncertainty is None:
            raise click.UsageError(f"method {method} gives no uncertainty map")
        scaled = np.clip(result.uncertainty / math.log(2), 0, 1) * 65535
        _write_png(uncertainty_out, scaled.astype(np.uint16))
    if as_json:
        settings = {key: value for key, value in result.details.items() if key != "seconds"}
        click.echo(json.dumps({"n_particles": result.n_instances, "seconds": round(seconds, 3), "settings": settings}))
    else:
        click.echo(f"{image}: {result.n_instances} particles ({method}, {seconds:.2f} s) -> {out}")


def _write_png(path: Path, array) -> None:
    from PIL import Image

    from ..errors import IDEError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path, format="PNG")
    except OSError as exc:
        raise IDEError(f"{path}: cannot write ({exc.strerror or exc})") from None


@click.command("train")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset directory in the EMPS layout.")
@click.option("--method", "train_method", type=click.Choice(["bpartis", "unet", "dilated-unet-crf", "maskrcnn"]), default="bpartis", show_default=True,
              help="Network to train: BPartIS, a learned baseline's U-Net, or Mask R-CNN (needs the 'maskrcnn' extra).")
@click.option("--out", "out_dir", default=None, type=click.Path(path_type=Path), help="Checkpoint directory (default: runs/METHOD).")
@click.option("--epochs", default=300, show_default=True, help="Passes over the training images.")
@click.option("--size", "crop", default=256, show_default=True, help="Training crop size in pixels (cut from 512-px images).")
@click.option("--batch", default=5, show_default=True, help="Crops per optimiser step.")
@click.option("--lr", type=float, default=None, help="Adam learning rate (default: 3e-4 for bpartis, 1e-4 for the U-Nets, 1e-3 (AdamW) for maskrcnn).")
@click.option("--lr-schedule", type=click.Choice(["constant", "poly"]), default="constant", show_default=True,
              help="poly: lr * (1 - epoch/epochs)^0.9, the original BPartIS schedule (a resumed run with another --epochs decays toward it).")
@click.option("--device", default="cpu", show_default=True, callback=check_device, help="cpu or cuda (cuda:N).")
@click.option("--seed", default=0, show_default=True, help="Seed of the weights' initialisation, the crops and the augmentation.")
@click.option("--val-fraction", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Share of the split's publications held out for validation (chosen by a hash of the DOI). 0: train on every "
                   "image, e.g. to retrain with a recipe chosen on validation; val_loss and best.pt then follow the training loss.")
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue from a last.pt checkpoint.")
@click.option("--init-weights", default=None,
              help="Start from this model bundle's weights (name or directory); for the U-Nets also a state_dict file "
                   "(e.g. pretrained encoder weights under our parameter names: tensors matching by name and shape are used); "
                   "for maskrcnn also torchvision's ImageNet weights of its backbone or COCO Mask R-CNN weights (a local .pth).")
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=None, help="After training, write the best weights as a model bundle here.")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="bf16: bfloat16 autocast, about 1.7x faster on CPUs with AVX512-BF16/AMX.")
@click.option("--threads", type=int, default=0, help="Torch CPU threads (0: torch's default).")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Processes preparing augmented batches beside the training (use several with --device cuda).")
@click.option("--time-limit", type=click.FloatRange(min=0), default=0, metavar="SECONDS",
              help="Stop between epochs before this many seconds have passed (estimated from the slowest epoch; "
                   "at least one epoch runs); resume later with --resume. 0: no limit.")
@click.option("--patience", type=click.IntRange(min=0), default=0, show_default=True, metavar="EPOCHS",
              help="Stop when the validation loss has not improved for this many epochs (early stopping). 0: never.")
def train_command(data, train_method, out_dir, epochs, crop, batch, lr, lr_schedule, device, seed, val_fraction, resume, init_weights, export_dir,
                  precision, threads, workers, time_limit, patience):
    """Train BPartIS or a learned baseline (--method) on an EMPS-layout dataset (validation on
    held-out publications of the train split)."""
    from ..train import TrainConfig

    if train_method == "maskrcnn":  # Mask R-CNN computes its own losses, so it has its own loop and export
        from ..train.maskrcnn import LR as default_lr
        from ..train.maskrcnn import export_maskrcnn as export_checkpoint
        from ..train.maskrcnn import train_maskrcnn as train
    else:
        from ..train import train
        from ..train.export import export_checkpoint
        from ..train.tasks import training_task

        default_lr = training_task(train_method).lr
    config = TrainConfig(data=str(data), out_dir=str(out_dir or Path("runs") / train_method), epochs=epochs, crop=crop, batch=batch,
                         lr=default_lr if lr is None else lr, lr_schedule=lr_schedule, device=device, seed=seed,
                         val_fraction=val_fraction, precision=precision, threads=threads, workers=workers, method=train_method, time_limit=time_limit,
                         patience=patience)
    best = train(config, resume=resume, init_weights=init_weights)
    click.echo(f"best checkpoint: {best}")
    if export_dir:
        bundle = export_checkpoint(best, export_dir)
        click.echo(f"model bundle: {bundle.path}")


@click.command("evaluate")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset directory in the EMPS layout.")
@click.option("--split", default="test", show_default=True, help="train, test or all.")
@click.option("--method", default="bpartis", show_default=True,
              help="A method of 'ide segment --method', several separated by commas, or 'all' (every registered method).")
@click.option("--mode", type=click.Choice(["bayesian", "discriminative"]), default=None, help="BPartIS mode (shortcut for --method bpartis or bpartis-discriminative).")
@bpartis_options
@click.option("--method-model", "method_models", multiple=True, metavar="METHOD=MODEL",
              help="Model bundle for one method, overriding --model for it (repeatable); METHOD 'bpartis' covers its three modes.")
@click.option("--limit", type=int, default=None, help="Only the first N images.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per method (with --sweep-tu: one for the sweep).")
@click.option("--grid", "grid_path", type=click.Path(path_type=Path), default=None,
              help="Write an overlay grid PNG: rows = the first --grid-images images, columns = ground truth and each method.")
@click.option("--grid-images", default=3, show_default=True, help="Rows of the --grid picture.")
@click.option("--sweep-tu", is_flag=True, help="Instead: sweep BPartIS's uncertainty threshold (paper Fig. 6), one MC inference per image re-filtered at each tu.")
@click.option("--tu-values", default=None, help="Comma-separated thresholds for --sweep-tu, 'none' = no filter (default: 0.0025 ... 0.05 and none).")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None, help="With --sweep-tu: write the metrics-vs-tu plot PNG here.")
def evaluate_command(data, split, method, mode, device, model, samples, tu, seed, precision, compile_activations, flips, method_models, limit, as_json,
                     grid_path, grid_images, sweep_tu, tu_values, plot_path):
    """Score segmentation methods on a dataset split: the BPartIS paper's metrics, COCO mAP, F1,
    seconds per image and the paper's particle-analysis check, beside the paper's figures."""
    import math

    from ..evaluate import DEFAULT_TU_VALUES, compare_methods, resolve_methods
    from ..evaluate import sweep_tu as run_sweep
    from ..evaluate.figures import save_overlay_grid, save_sweep_plot
    from ..evaluate.report import comparison_table, sweep_table

    config = bpartis_config(model, samples, tu, seed, precision, compile_activations, device, flips)
    if sweep_tu:
        if grid_path is not None:
            raise click.UsageError("--grid draws a method comparison; leave out --sweep-tu")
        values = DEFAULT_TU_VALUES if tu_values is None else _parse_tu_values(tu_values)
        sweep = run_sweep(data, split=split, bpartis=config, tu_values=values, limit=limit)
        if plot_path is not None:
            save_sweep_plot(plot_path, sweep)
        if as_json:
            click.echo(json.dumps(sweep.to_json()))
        else:
            click.echo(sweep_table(sweep))
            best = sweep.best("AP")
            click.echo(f"\n{sweep.n_images} images, T={sweep.n_samples}; best tu by AP: {'-' if math.isnan(best) else f'{best:g}'} (* = model default)")
        return
    if plot_path is not None:
        raise click.UsageError("--plot draws the tu sweep; add --sweep-tu")
    if grid_images < 1:
        raise click.BadParameter("must be at least 1", param_hint="--grid-images")
    names = resolve_methods(method if method == "all" else [name.strip() for name in method.split(",") if name.strip()])
    if mode == "discriminative" and names == ["bpartis"]:
        names = ["bpartis-discriminative"]
    comparison = compare_methods(data, methods=names, split=split, bpartis=config, models=_method_models(method_models, names),
                                 limit=limit, keep_examples=grid_images if grid_path is not None else 0)
    if grid_path is not None:
        save_overlay_grid(grid_path, comparison.examples, names)
    if as_json:
        for evaluation in comparison.evaluations:
            click.echo(json.dumps(evaluation.to_json()))
    else:
        click.echo(comparison_table(comparison.evaluations))


def _method_models(pairs: tuple[str, ...], names: list[str]) -> dict[str, str]:
    """--method-model METHOD=MODEL pairs -> {method: model} over the methods evaluated."""
    from ..segment.methods import BPARTIS_MODES

    models = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{pair!r} is not METHOD=MODEL", param_hint="--method-model")
        for name in BPARTIS_MODES if key == "bpartis" else [key]:
            if key == "bpartis" and name not in names:
                continue
            models[name] = value
    return models


def _parse_tu_values(text: str) -> tuple[float, ...]:
    values = []
    for item in (part.strip() for part in text.split(",")):
        try:
            values.append(float("inf") if item.lower() in ("none", "inf") else float(item))
        except ValueError:
            raise click.BadParameter(f"{item!r} is not a number or 'none'", param_hint="--tu-values") from None
    return tuple(values)


@click.group("models")
def models_group():
    """List, locate, verify and import segmentation models."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the bundles as a JSON list.")
def models_list(as_json):
    """Model bundles found on the search path."""
    from ..models import list_models

    bundles = list_models()
    if as_json:
        click.echo(json.dumps([{"name": b.name, "version": b.version, "path": str(b.path)} for b in bundles]))
    for bundle in [] if as_json else bundles:
        click.echo(f"{bundle.name:24} {bundle.version:12} {bundle.path}")


@models_group.command("where")
def models_where():
    """Directories searched for models, highest priority first."""
    from ..models.registry import search_path

    for directory in search_path():
        click.echo(str(directory))


@models_group.command("verify")
@click.argument("model", required=False)
def models_verify(model):
    """Check a model's weights against the sha256 in its config (default model if none named)."""
    from ..errors import ModelError
    from ..models import resolve

    bundle = resolve(model, arch=None)  # any architecture: only the checksum is checked
    if not bundle.verify():
        raise ModelError(f"{bundle.path}: weights do not match the recorded sha256")
    click.echo(f"{bundle.name}: OK ({bundle.config['sha256'][:12]})")


@models_group.command("import")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--name", default="bpartis-ide2", show_default=True, help="Name of the new bundle.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, help="Bundle directory (default: the user model directory / NAME).")
def models_import(checkpoint, name, out_dir):
    """Import a checkpoint saved by the original BPartIS / ImageDataExtractor 2.0 code."""
    from ..models import user_model_dir
    from ..segment.ide2_checkpoint import import_ide2_checkpoint

    bundle = import_ide2_checkpoint(checkpoint, out_dir or user_model_dir() / name, name=name)
    click.echo(f"imported {checkpoint} as {bundle.name} -> {bundle.path} (use --model {bundle.name})")


def register(group: click.Group) -> None:
    for command in (segment_command, train_command, evaluate_command, models_group):
        group.add_command(command)
