"""Turn a training checkpoint into a shippable model bundle."""

from __future__ import annotations

import datetime
from pathlib import Path

from ..errors import ModelError
from ..models.registry import ModelBundle, write_bundle


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, *, name: str | None = None) -> ModelBundle:
    """Write the model weights of a ``best.pt``/``last.pt`` from ``ide train`` as a bundle of the
    method it trained (default name ``<method>-emps``) with its inference defaults and the training
    provenance (epochs, crop, data)."""
    import torch

    from .tasks import training_task

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state:
        raise ModelError(f"{checkpoint}: not a training checkpoint written by 'ide train'")
    method = state["config"].get("method", "bpartis")
    return training_task(method).export(state, Path(out_dir), name or f"{method}-emps")


def training_summary(state: dict) -> dict:
    """The ``training`` entry of an exported bundle's config, from a training checkpoint: epochs,
    the settings that shaped the weights, the last validation loss and the training seconds."""
    trained = state["config"]
    settings = {k: trained.get(k) for k in ("crop", "batch", "lr", "seed", "split", "val_fraction", "precision")}
    return {
        "epochs": state["epoch"],
        **settings,
        "lr_schedule": trained.get("lr_schedule", "constant"),
        "final_val_loss": state["history"][-1]["val_loss"],
        "seconds": round(sum(h["seconds"] for h in state["history"]), 1),
    }


def export_bpartis(state: dict, out_dir: Path, name: str) -> ModelBundle:
    """A BPartIS training checkpoint's weights as a bundle with the paper's inference defaults."""
    config = {
        "name": name,
        "version": f"epoch{state['epoch']}-{datetime.date.today():%Y%m%d}",
        "input_size": state["config"]["canvas"],
        "n_samples": 30,
        "tu": 0.0125,
        "seed_threshold": 0.5,
        "min_size": 128,
        "training": training_summary(state),
    }
    return write_bundle(state["model"], out_dir, config)
