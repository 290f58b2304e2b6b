"""What a training run writes into a model bundle: the training provenance, and BPartIS's bundle
with the paper's inference defaults (used by the training tasks; :mod:`.export` picks the task)."""

from __future__ import annotations

import datetime
from pathlib import Path

from ..models.registry import ModelBundle, write_bundle


def training_summary(state: dict) -> dict:
    """The ``training`` entry of an exported bundle's config, from a training checkpoint: epochs,
    the settings that shaped the weights, the last validation loss and the training seconds."""
    trained = state["config"]
    settings = {k: trained.get(k) for k in ("crop", "batch", "lr", "seed", "split", "val_fraction", "precision", "patience")}
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
