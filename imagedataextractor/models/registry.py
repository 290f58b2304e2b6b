"""Model bundles: a directory holding ``weights.pt`` (a state_dict), ``config.json`` (architecture,
inference defaults, sha256 of the weights) and optionally ``MODEL_CARD.md``.

Lookup is offline, in order: an explicit path, ``$IDE_MODEL_DIR``, the user data directory
(platformdirs), then the bundles shipped inside the package. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "bpartis-emps"
MODEL_DIR_ENV = "IDE_MODEL_DIR"
ARCHITECTURE = "bpartis-erfnet-v1"
PACKAGE_MODELS = Path(__file__).parent


def user_model_dir() -> Path:
    """Where ``ide models import`` writes bundles by default."""
    import platformdirs

    return Path(platformdirs.user_data_dir("imagedataextractor")) / "models"


def search_path() -> list[Path]:
    """Directories searched for named bundles, highest priority first."""
    dirs = [Path(os.environ[MODEL_DIR_ENV])] if os.environ.get(MODEL_DIR_ENV) else []
    return dirs + [user_model_dir(), PACKAGE_MODELS]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelBundle:
    """A model on disk. ``config`` holds: name, version, arch, input_size (px), n_samples, tu,
    seed_threshold, min_size (px at input_size), flips (optional: Bayesian sampling over flipped
    views, see :func:`~imagedataextractor.segment.predict.mc_outputs`), sha256, and free-form provenance."""

    path: Path
    config: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.config.get("name", self.path.name))

    @property
    def version(self) -> str:
        return str(self.config.get("version", "unknown"))

    @property
    def weights_path(self) -> Path:
        return self.path / "weights.pt"

    def verify(self) -> bool:
        """True when the weights' sha256 matches the one recorded in config.json."""
        return self.weights_path.exists() and sha256_file(self.weights_path) == self.config.get("sha256")


def read_bundle(path: str | Path, *, arch: str | None = ARCHITECTURE) -> ModelBundle:
    """Read the bundle in directory ``path``; raises :class:`ModelError` naming what is missing.

    ``arch``: the architecture the caller can load (refused if the bundle's differs); None accepts any.
    """
    path = Path(path)
    config_path = path / "config.json"
    if not config_path.exists() or not (path / "weights.pt").exists():
        raise ModelError(f"{path}: not a model bundle (needs weights.pt and config.json)")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{config_path}: invalid JSON ({exc})") from None
    if arch is not None and config.get("arch") != arch:
        raise ModelError(f"{config_path}: architecture {config.get('arch')!r} is not {arch!r}")
    return ModelBundle(path, config)


def list_models() -> list[ModelBundle]:
    """Every readable bundle on the search path, of any architecture (a name found twice: the first
    one wins)."""
    found: dict[str, ModelBundle] = {}
    for directory in search_path():
        if not directory.is_dir():
            continue
        for candidate in sorted(directory.iterdir()):
            if (candidate / "config.json").exists():
                try:
                    bundle = read_bundle(candidate, arch=None)
                except ModelError:
                    continue
                found.setdefault(bundle.name, bundle)
    return list(found.values())


def resolve(model: str | Path | None = None, *, arch: str | None = ARCHITECTURE) -> ModelBundle:
    """Find a bundle by directory path or by name (default :data:`DEFAULT_MODEL`); ``arch`` as in
    :func:`read_bundle`."""
    model = model or DEFAULT_MODEL
    if Path(model).is_dir():
        return read_bundle(model, arch=arch)
    for directory in search_path():
        if (directory / str(model) / "config.json").exists():
            return read_bundle(directory / str(model), arch=arch)
    searched = ", ".join(str(d) for d in search_path())
    raise ModelError(f"model {model!r} not found (searched {searched}); see 'ide models list'")


def write_bundle(
    state_dict: dict[str, "torch.Tensor"], out_dir: str | Path, config: dict[str, Any], *, arch: str = ARCHITECTURE
) -> ModelBundle:
    """Save a state_dict (BPartIS unless ``arch`` says otherwise) as a bundle, recording its sha256
    and the architecture."""
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, out_dir / "weights.pt")
    config = {**config, "arch": arch, "sha256": sha256_file(out_dir / "weights.pt")}
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return ModelBundle(out_dir, config)


def load_weights(network, weights_path: Path, sha256: str, device: str, *, what: str, hint: str = ""):
    """Check ``weights_path`` against ``sha256``, load its state dict into ``network`` (strictly;
    fp16-stored weights are cast to the network's dtype) and return the network on ``device`` in eval
    mode. Raises a one-line :class:`ModelError` naming the file for a checksum mismatch, an unreadable
    file, or weights that do not fit ``what`` (the network's name), followed by ``hint``."""
    import torch

    if sha256_file(weights_path) != sha256:
        raise ModelError(f"{weights_path}: sha256 does not match config.json (corrupt or replaced weights)")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign pickles
        raise ModelError(f"{weights_path}: cannot load weights ({type(exc).__name__}: {exc})") from None
    try:
        network.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ModelError(f"{weights_path}: weights do not fit the {what} ({first_line}){hint}") from None
    return network.to(device).eval()
