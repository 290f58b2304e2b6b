"""BPartIS inference: discriminative (one pass) or Bayesian (Monte Carlo dropout) with the
per-instance uncertainty filter, as in Yildirim & Cole (2021).

Speed: inference runs on a copy of the network with batch norms folded into the convolutions, in
channels_last layout (optionally bfloat16). The stem (everything before the first dropout,
including the first residual branch) runs once per image; the T samples then run as batches
through the rest, and their outputs are reduced on the fly (sums of embedding-decoder features, seed
logits, seed probabilities and per-sample seed entropies), so memory does not grow with T; the
embedding decoder's linear last layers run once, on the mean features.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import SettingsError
from ..imageio import as_rgb
from ..models.registry import ModelBundle, resolve
from .cluster import cluster_outputs
from .config import PRECISION_NAMES, BPartISConfig
from .masking import remove_border_instances
from .erfnet import BPartISNet, Stem, load_network
from .precision import resolve_precision
from .types import Segmentation
from .uncertainty import binary_entropy, filter_uncertain


log = logging.getLogger(__name__)

T = TypeVar("T")

#: Inference precisions: "bf16" stores weights and activations in bfloat16, about 2x faster on CPUs
#: with AVX512-BF16 or AMX; every reduction over samples stays float32.
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


@contextlib.contextmanager
def mc_dropout(network: nn.Module, seed: int) -> Iterator[None]:
    """Dropout active, batch norm in eval mode, dropout masks drawn from ``seed``; restores eval()
    and the global RNG afterwards."""
    network.eval()
    for module in network.modules():
        if isinstance(module, nn.Dropout2d):
            module.train()
    device = next(network.parameters()).device
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            yield
    finally:
        network.eval()


def to_input(image: np.ndarray, size: int) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, size, size) float in [0, 1], resized bicubically."""
    resized = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))
    return torch.from_numpy(resized.copy()).permute(2, 0, 1).unsqueeze(0).float() / 255.0


#: The views of ``flips``: tensor dims flipped (-1: left-right, -2: up-down), the original first.
FLIP_VIEWS: tuple[tuple[int, ...], ...] = ((), (-1,), (-2,), (-2, -1))


def unflip_embedding(raw: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Map embedding-decoder outputs (C, H, W) of a flipped view back to the original frame.

    Channels 0 and 1 are the x and y offsets: a left-right flip mirrors the x axis, so the x
    offset changes sign (tanh is odd and the coordinate map is symmetric), an up-down flip the y
    offset. The sigma channels are unchanged by flips.
    """
    signs = torch.ones(raw.shape[0], 1, 1, device=raw.device, dtype=raw.dtype)
    signs[0] = -1.0 if -1 in dims else 1.0
    signs[1] = -1.0 if -2 in dims else 1.0
    return raw.flip(dims) * signs


class MCOutputs(NamedTuple):
    """What MC dropout sampling gives, on the CPU: ``raw`` (5, H, W), the mean raw output (offsets,
    sigmas, seed logit); ``information`` (H, W), the seed mutual information (nats);
    ``foreground`` (H, W), the share of samples (0-1) in which each pixel's seed probability
    exceeds 0.5, from which each particle's size spread over the samples is read
    (:func:`~imagedataextractor.measure.particles.diameter_spread_px`). A discriminative pass (one,
    without dropout) has neither: None."""

    raw: torch.Tensor
    information: torch.Tensor | None
    foreground: torch.Tensor | None


@dataclass(frozen=True)
class MCBatch:
    """One batch of MC dropout samples of one view, reduced over the batch.

    index: the batch's position in the order of :func:`mc_batches` (batches of the original view
    first); batch ``b`` of T = 3n samples is the same whichever T, so the first k batches of one run
    are a run of fewer samples (used by ``benchmarks/samples_sweep.py``). view: its :data:`FLIP_VIEWS`
    entry. count: samples in it. features: the sum over its samples of the embedding decoder's
    features before the linear projection (16, H/2, W/2); logits, probabilities, entropies,
    foregrounds: sums of the seed logits, probabilities, their binary entropies and the foreground
    indicator (probability > 0.5) (H, W), float32.
    """

    index: int
    view: tuple[int, ...]
    count: int
    features: torch.Tensor
    logits: torch.Tensor
    probabilities: torch.Tensor
    entropies: torch.Tensor
    foregrounds: torch.Tensor


def mc_batches(network: BPartISNet, x: torch.Tensor, n_samples: int, *, seed: int = 0, batch_size: int = 3,
               flips: bool = False) -> Iterator[MCBatch]:
    """The MC dropout batches of :func:`mc_outputs`, one :class:`MCBatch` at a time, in the order
    their masks are drawn. Consume it whole inside ``torch.inference_mode()``."""
    dtype = next(network.parameters()).dtype
    batches = [min(batch_size, n_samples - start) for start in range(0, n_samples, batch_size)]
    views = FLIP_VIEWS if flips else FLIP_VIEWS[:1]
    with mc_dropout(network, seed):
        for view_index, dims in enumerate(views):
            indices = range(view_index, len(batches), len(views))  # whole batches per view: no new batch shapes
            if not indices:
                continue
            stem = network.stem(x.flip(dims).to(dtype))
            for index in indices:
                encoded = network.encode(stem.expand(batches[index]))
                features = network.embedding_decoder.layers(encoded).float().sum(0)
                yield MCBatch(index, dims, batches[index], features, *network.seed_statistics(encoded))


def reduce_mc_batches(network: BPartISNet, batches: Iterable[MCBatch]) -> MCOutputs:
    """:func:`mc_outputs`' :class:`MCOutputs`, on the CPU, from its batches (any subset of them:
    views with none are left out)."""
    dtype = next(network.parameters()).dtype
    by_view: dict[tuple[int, ...], list[MCBatch]] = {}
    for batch in batches:
        by_view.setdefault(batch.view, []).append(batch)
    embedding_sum = logit_sum = information_sum = foreground_sum = torch.zeros((), device=next(network.parameters()).device)
    n_samples = 0
    for dims, view_batches in by_view.items():
        n_view = sum(batch.count for batch in view_batches)
        features, logits, probabilities, entropies, foregrounds = (sum(getattr(batch, name) for batch in view_batches)
                                                                   for name in ("features", "logits", "probabilities", "entropies", "foregrounds"))
        mean_features = (features / n_view)[None].to(dtype).contiguous(memory_format=torch.channels_last)
        embedding_sum = embedding_sum + unflip_embedding(network.embedding_decoder.project(mean_features)[0].float(), dims) * n_view
        information = binary_entropy(probabilities / n_view) - entropies / n_view
        logit_sum = logit_sum + logits.flip(dims)
        information_sum = information_sum + information.flip(dims) * n_view
        foreground_sum = foreground_sum + foregrounds.flip(dims)
        n_samples += n_view
    return MCOutputs(torch.cat([embedding_sum / n_samples, (logit_sum / n_samples)[None]]).cpu(), (information_sum / n_samples).clamp(min=0.0).cpu(),
                     (foreground_sum / n_samples).cpu())


@torch.inference_mode()
def mc_outputs(network: BPartISNet, x: torch.Tensor, n_samples: int, *, seed: int = 0, batch_size: int = 3,
               flips: bool = False) -> MCOutputs:
    """Mean raw output (5, H, W) over ``n_samples`` dropout samples, the seed mutual information (H, W)
    and the foreground fraction (H, W), on the CPU, where clustering runs (see :class:`MCOutputs`).

    x: (1, 3, H, W) in [0, 1], on the network's device. Runs in the network's dtype (see :meth:`BPartISNet.for_inference`)
    and reduces in float32. The embedding decoder's last upsample and conv are linear, so they run
    once per view, on the mean of the samples' features; the seed decoder runs whole per sample,
    because the mutual information needs every sample's seed probabilities.

    flips: spread the samples' batches over the four :data:`FLIP_VIEWS` of the image (test-time
    augmentation at the same cost: T passes, one stem per view) and average them in the original
    frame. The mutual information is taken within each view (over its own dropout samples) and
    averaged, weighted by samples: it stays the model's epistemic uncertainty. Pooled over the
    views it would also count their disagreement, which on the EMPS validation images made the tu
    filter drop many more true particles (F1@0.5 0.784 against 0.844 without flips).
    """
    return reduce_mc_batches(network, mc_batches(network, x, n_samples, seed=seed, batch_size=batch_size, flips=flips))


def view_batches(n_samples: int, batch_size: int, flips: bool) -> list[tuple[tuple[int, ...], list[tuple[int, int]]]]:
    """How :func:`mc_batches` lays out ``n_samples``: per view (in :data:`FLIP_VIEWS` order) its
    (batch index, sample count) pairs, views without a batch left out."""
    counts = [min(batch_size, n_samples - start) for start in range(0, n_samples, batch_size)]
    views = FLIP_VIEWS if flips else FLIP_VIEWS[:1]
    layout = [(dims, [(index, counts[index]) for index in range(view_index, len(counts), len(views))]) for view_index, dims in enumerate(views)]
    return [(dims, batches) for dims, batches in layout if batches]


def dropout_layers(network: BPartISNet) -> list[tuple[nn.Dropout2d, int]]:
    """The network's active dropout layers in the order a forward pass runs them, with their channels."""
    layers = []
    for block in network.encoder.blocks:
        dropout = getattr(block, "dropout", None)
        if isinstance(dropout, nn.Dropout2d):
            convolution = block.conv_h2
            assert isinstance(convolution, nn.Conv2d)  # every block with dropout is a non-bottleneck-1D block
            layers.append((dropout, convolution.out_channels))
    return layers


def draw_dropout_masks(network: BPartISNet, n_samples: int, *, seed: int, batch_size: int, flips: bool) -> list[list[torch.Tensor]]:
    """The dropout masks (scaled by 1 / (1 - p), the network's dtype, on the CPU) that
    :func:`mc_outputs` on the CPU draws for one image: per batch of :func:`view_batches`, in their
    order, one (count, C, 1, 1) mask per layer of :func:`dropout_layers`. Drawn from a generator of
    their own seeded with ``seed``, in the order and shapes PyTorch's Dropout2d draws them from the
    global one, so on the CPU they are the very masks of a per-image run."""
    generator = torch.Generator().manual_seed(seed)
    dtype = next(network.parameters()).dtype
    layers = dropout_layers(network)
    masks = []
    for _, batches in view_batches(n_samples, batch_size, flips):
        for _, count in batches:
            masks.append([torch.empty(count, channels, 1, 1, dtype=dtype).bernoulli_(1 - layer.p, generator=generator).div_(1 - layer.p)
                          for layer, channels in layers])
    return masks


@contextlib.contextmanager
def fixed_dropout_masks(network: BPartISNet) -> Iterator[list[torch.Tensor]]:
    """Dropout that multiplies by given masks: yields a list to fill, before each forward, with one
    mask per layer of :func:`dropout_layers` (shapes broadcastable to its input). Batch norm and
    dropout draw nothing (eval mode)."""
    network.eval()
    current: list[torch.Tensor] = []
    handles = [layer.register_forward_hook(lambda module, inputs, output, index=index: inputs[0] * current[index])
               for index, (layer, _) in enumerate(dropout_layers(network))]
    try:
        yield current
    finally:
        for handle in handles:
            handle.remove()


@torch.inference_mode()
def mc_outputs_many(network: BPartISNet, xs: list[torch.Tensor], n_samples: int, *, seeds: list[int], batch_size: int = 3,
                    flips: bool = False) -> list[MCOutputs]:
    """:func:`mc_outputs` of several images at once: each forward batch holds every image's samples
    of that batch (len(xs) x batch_size samples), for GPUs, where one image's batch of 3 leaves most
    of the device idle. xs: (1, 3, H, W) images of one size, on the network's device; seeds: one per
    image. The dropout masks are each image's own (:func:`draw_dropout_masks`), so an image's result
    does not depend on the others in its group, and on the CPU it equals :func:`mc_outputs` up to
    float rounding (tested). Returns each image's :class:`MCOutputs`.
    """
    dtype = next(network.parameters()).dtype
    device = xs[0].device
    masks = [draw_dropout_masks(network, n_samples, seed=seed, batch_size=batch_size, flips=flips) for seed in seeds]
    n_layers = len(dropout_layers(network))
    images = torch.cat(xs).to(dtype)
    per_image: list[list[MCBatch]] = [[] for _ in xs]
    position = 0
    with fixed_dropout_masks(network) as current:
        for dims, batches in view_batches(n_samples, batch_size, flips):
            stem = network.stem(images.flip(dims))
            for index, count in batches:
                current[:] = [torch.cat([image_masks[position][layer] for image_masks in masks]).to(device)
                              for layer in range(n_layers)]
                position += 1
                encoded = network.encode(Stem(*(t.repeat_interleave(count, 0) for t in stem)))
                features = network.embedding_decoder.layers(encoded).float().unflatten(0, (len(xs), count)).sum(1)
                logits = network.seed_decoder(encoded)[:, 0].float().unflatten(0, (len(xs), count))
                for image, image_batches in enumerate(per_image):
                    image_batches.append(MCBatch(index, dims, count, features[image], *network.seed_statistics_of_logits(logits[image])))
    return [reduce_mc_batches(network, image_batches) for image_batches in per_image]


@torch.inference_mode()
def discriminative_output(network: BPartISNet, x: torch.Tensor) -> torch.Tensor:
    """The raw output (5, H, W) of one pass with dropout off, on the CPU; x: (1, 3, H, W) in [0, 1]."""
    network.eval()
    return network(x.to(next(network.parameters()).dtype))[0].float().cpu()


def to_image_size(labels: torch.Tensor, scores: torch.Tensor, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Instance labels at the network's resolution (S, S), ids 1..n, and their scores (n,) -> labels
    (H, W) uint16 at the image's ``shape`` (nearest neighbour) and float32 scores of the ids kept.

    Nearest-neighbour downscaling can drop a tiny instance entirely; ids stay contiguous and the
    dropped instance's score goes with it. (Used by :meth:`BPartIS.segment`, and by the tu sweep
    of the evaluation, which re-filters one set of MC outputs at several thresholds.)
    """
    height, width = shape
    labels_np = np.asarray(Image.fromarray(labels.numpy().astype(np.int32)).resize((width, height), Image.Resampling.NEAREST))
    labels_np = labels_np.astype(np.uint16)
    present = np.unique(labels_np)
    present = present[present > 0]
    if len(present) != int(labels_np.max()):
        remap = np.zeros(int(labels_np.max()) + 1, np.uint16)
        remap[present] = np.arange(1, len(present) + 1, dtype=np.uint16)
        labels_np, scores = remap[labels_np], scores[torch.from_numpy(present.astype(np.int64) - 1)]
    return labels_np, scores.numpy().astype(np.float32)


#: Inductor options of ``--compile``: dropout masks drawn by eager PyTorch's generator, so a seed
#: gives the same MC samples compiled or not.
COMPILE_OPTIONS = {"fallback_random": True}


def compile_cache_dir() -> Path:
    """Where Inductor keeps what it compiled (graphs, kernels) between processes, unless
    $TORCHINDUCTOR_CACHE_DIR says otherwise: the user cache directory, which, unlike Inductor's
    default in /tmp, outlives a reboot. A later process with the same network, shapes and PyTorch
    loads the compiled code instead of compiling again (see BENCHMARKS.md)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("imagedataextractor")) / "torchinductor"


def compile_sampling(network: BPartISNet) -> BPartISNet:
    """Compile, with ``torch.compile``, the part of an inference copy (:meth:`BPartISNet.for_inference`)
    that runs once per MC sample: the encoder after the stem, the embedding decoder's layers and the
    seed decoder with its per-sample statistics. Inductor fuses the ELUs (slow in eager PyTorch),
    residual sums, dropout and the entropy sums into few kernels and plans their buffers. Compiling
    happens at the first call (about 12 s on 2 cores) and again for a new batch shape, once per
    machine: the result is cached on disk (:func:`compile_cache_dir`) for later processes. Returns
    ``network``, changed in place."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
    network.encode = torch.compile(network.encode, options=COMPILE_OPTIONS)  # type: ignore[arg-type, method-assign]  # torch's stub wants an invariant dict of a wider value type; torch.compile'd replacements of the per-sample methods
    network.embedding_decoder.layers = torch.compile(network.embedding_decoder.layers, options=COMPILE_OPTIONS)  # type: ignore[arg-type, assignment]  # torch's stub wants an invariant dict of a wider value type; torch.compile'd replacements of the per-sample methods
    network.seed_statistics = torch.compile(network.seed_statistics, options=COMPILE_OPTIONS)  # type: ignore[arg-type, method-assign]  # torch's stub wants an invariant dict of a wider value type; torch.compile'd replacements of the per-sample methods
    return network


class BPartIS:
    """A loaded BPartIS model; create once (or use :func:`segment_bpartis`, which caches)."""

    def __init__(self, bundle: ModelBundle, device: str = "cpu") -> None:
        self.bundle = bundle
        self.network = load_network(bundle, device)
        self.device = device
        self._inference: dict[tuple[str, bool], BPartISNet] = {}

    def inference_network(self, precision: str = "auto", compile: bool = False) -> BPartISNet:
        """The network prepared for inference in ``precision`` ("fp32", "bf16", or "auto": see
        :func:`~imagedataextractor.segment.precision.resolve_precision`), its per-sample part
        compiled if ``compile`` (see :func:`compile_sampling`), built once."""
        if precision not in PRECISION_NAMES:
            raise SettingsError(f"precision must be one of {', '.join(PRECISION_NAMES)}, not {precision!r}")
        precision = resolve_precision(precision, self.device)
        key = (precision, compile)
        if key not in self._inference:
            network = self.network.for_inference(PRECISIONS[precision])
            self._inference[key] = compile_sampling(network) if compile else network
        return self._inference[key]

    def run(self, config: BPartISConfig, forward: Callable[[BPartISNet], T]) -> T:
        """``forward(network)`` with the network of ``config``'s precision and compile settings. When
        compiling fails (no C++ compiler, an unsupported platform: torch.compile fails at the first
        call, in many ways) it warns once and runs, from then on, the eager network."""
        precision = self.precision(config)
        network = self.inference_network(precision, config.compile)
        if not config.compile:
            return forward(network)
        try:
            return forward(network)
        except Exception as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("torch.compile failed (%s); BPartIS runs eagerly", first_line)
            self._inference[(precision, True)] = self.inference_network(precision, False)
            return forward(self._inference[(precision, True)])

    def precision(self, config: BPartISConfig) -> str:
        """The precision ("fp32" or "bf16") ``config`` runs in on this model's device ("auto" resolved
        from the CPU's flags)."""
        return resolve_precision(config.precision, self.device)

    def n_samples(self, config: BPartISConfig) -> int:
        """T of ``config``, else the model's (30)."""
        return config.n_samples or int(self.bundle.config.get("n_samples", 30))

    def flips(self, config: BPartISConfig) -> bool:
        """Whether ``config`` samples flipped views, else the model's setting (off if it has none)."""
        return config.flips if config.flips is not None else bool(self.bundle.config.get("flips", False))

    def sample(self, x: torch.Tensor, config: BPartISConfig) -> MCOutputs:
        """:func:`mc_outputs` of ``x`` (1, 3, S, S) with ``config``'s T, flips, seed, batches, precision."""
        n_samples, flips = self.n_samples(config), self.flips(config)
        return self.run(config, lambda network: mc_outputs(network, x, n_samples, seed=config.seed, batch_size=config.batch_size,
                                                           flips=flips))

    def to_input(self, image: np.ndarray) -> torch.Tensor:
        """An (H, W, 3) uint8 RGB image as the network's input (1, 3, S, S) on its device."""
        size = int(self.bundle.config.get("input_size", 512))
        return to_input(image, size).to(self.device).contiguous(memory_format=torch.channels_last)

    def segment(self, image: np.ndarray, config: BPartISConfig = BPartISConfig()) -> Segmentation:
        """Segment an (H, W, 3) uint8 RGB image (greyscale/RGBA converted); labels at (H, W)."""
        image = as_rgb(image)
        started = time.perf_counter()
        x = self.to_input(image)
        if config.mode == "bayesian":
            outputs = self.sample(x, config)
        else:
            outputs = MCOutputs(self.run(config, lambda network: discriminative_output(network, x)), None, None)
        return self.finish(image, outputs, config, time.perf_counter() - started)

    def segment_many(self, images: Iterable[np.ndarray], config: BPartISConfig = BPartISConfig(),
                     images_per_batch: int | None = None) -> Iterator[Segmentation]:
        """:meth:`segment` of each image, in order, for many images.

        Bayesian mode with ``images_per_batch`` > 1 (default on CUDA: as many as about half the GPU's
        free memory holds, from the memory the first image took; elsewhere 1): the images go through
        :func:`mc_outputs_many` in groups, each forward batch holding every image of the group's
        samples, and each group's clustering runs on a CPU thread while the next group runs on the
        device. An image's result is the same in any group (its own dropout masks; on the CPU equal
        to :meth:`segment`'s up to float rounding). ``details["seconds"]`` is then the group's
        device time shared out, plus the image's own clustering. This path runs the network eagerly
        (``config.compile`` is not used: each group size would be a new compiled shape).
        """
        images = iter(images)
        if config.mode != "bayesian" or (images_per_batch is None and not self.device.startswith("cuda")) or images_per_batch == 1:
            yield from (self.segment(image, config) for image in images)
            return
        n_samples, flips = self.n_samples(config), self.flips(config)
        network = self.inference_network(self.precision(config))
        group_size = images_per_batch or 1  # CUDA, unsized: a first group of one image measures the memory
        with ThreadPoolExecutor(max_workers=1) as clustering:
            pending: list[Future[Segmentation]] = []
            while group := [as_rgb(image) for image in itertools.islice(images, group_size)]:
                started = time.perf_counter()
                if images_per_batch is None:
                    torch.cuda.reset_peak_memory_stats(self.device)
                outputs = mc_outputs_many(network, [self.to_input(image) for image in group], n_samples, seeds=[config.seed] * len(group),
                                          batch_size=config.batch_size, flips=flips)
                if images_per_batch is None:
                    group_size = gpu_images_per_batch(self.device, torch.cuda.max_memory_allocated(self.device) / len(group))
                seconds = (time.perf_counter() - started) / len(group)
                yield from (future.result() for future in pending)
                pending = [clustering.submit(self.finish, image, image_outputs, config, seconds) for image, image_outputs in zip(group, outputs)]
            yield from (future.result() for future in pending)

    def finish(self, image: np.ndarray, outputs: MCOutputs, config: BPartISConfig, seconds: float) -> Segmentation:
        """The :class:`Segmentation` of ``image`` from the network's :class:`MCOutputs` (S, S) (in
        discriminative mode with None information and foreground): clustering, the uncertainty
        filter, the image's size, border particles. ``seconds``: the network's share, added to ``details``."""
        raw, information, foreground = outputs
        started = time.perf_counter()
        defaults = self.bundle.config
        n_samples = self.n_samples(config)
        tu = config.tu if config.tu is not None else float(defaults.get("tu", 0.0125))
        seed_threshold = float(defaults.get("seed_threshold", 0.5))
        min_size = int(defaults.get("min_size", 128))
        clusters = cluster_outputs(raw, seed_threshold=seed_threshold, min_size=min_size)
        labels, scores = clusters.labels, clusters.scores
        if information is not None and config.filter_uncertain:
            labels, kept = filter_uncertain(labels, information, tu)
            scores = scores[kept]
        height, width = image.shape[:2]
        labels_np, scores_np = to_image_size(labels, scores, (height, width))
        if not config.keep_border:
            inner = remove_border_instances(labels_np)
            kept_ids = np.unique(labels_np[(inner > 0)]) if inner.any() else np.zeros(0, np.int64)
            scores_np = scores_np[kept_ids.astype(np.int64) - 1] if len(kept_ids) else np.zeros(0, np.float32)
            labels_np = inner
        uncertainty_np = None if information is None else _to_image_map(information, (height, width)).clip(min=0.0)
        foreground_np = None if foreground is None else _to_image_map(foreground, (height, width)).clip(0.0, 1.0)
        details = {
            "mode": config.mode,
            "n_samples": n_samples if config.mode == "bayesian" else 1,
            "flips": config.mode == "bayesian" and self.flips(config),
            "tu": tu if (config.mode == "bayesian" and config.filter_uncertain) else None,
            "seed": config.seed,
            "precision": self.precision(config),
            "keep_border": config.keep_border,
            "model": self.bundle.name,
            "model_version": self.bundle.version,
            "model_sha256": self.bundle.config.get("sha256"),
            "seconds": round(seconds + time.perf_counter() - started, 4),
            # the bundle's estimate holds for its own filtered Bayesian mode
            "systematic_rel_sd": float(defaults.get("systematic_rel_sd", 0.0)) if (config.mode == "bayesian" and config.filter_uncertain) else 0.0,
        }
        return Segmentation(labels_np, uncertainty_np, scores_np, "bpartis", details, foreground_np)


def _to_image_map(values: torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
    """A per-pixel map (S, S) at the network's resolution, resized bilinearly to ``shape`` (H, W): float32."""
    return F.interpolate(values[None, None], size=shape, mode="bilinear", align_corners=False)[0, 0].numpy().astype(np.float32)


#: Share of the GPU's free memory that :meth:`BPartIS.segment_many` plans to fill with a group.
GPU_MEMORY_SHARE = 0.5


def gpu_images_per_batch(device: str, bytes_per_image: float, limit: int = 64) -> int:
    """How many images' MC samples fit in :data:`GPU_MEMORY_SHARE` of ``device``'s free memory,
    given the peak bytes one image took (1 to ``limit``)."""
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return max(1, min(limit, int(GPU_MEMORY_SHARE * free / max(bytes_per_image, 1.0))))


_loaded: dict[tuple[str, str], BPartIS] = {}


def get_bpartis(model: str | None = None, device: str = "cpu") -> BPartIS:
    """The BPartIS model ``model`` (name or bundle path; default the shipped one), loaded once."""
    bundle = resolve(model)
    key = (str(bundle.path.resolve()), device)
    if key not in _loaded:
        _loaded[key] = BPartIS(bundle, device)
    return _loaded[key]


def segment_bpartis(image: np.ndarray, *, config: BPartISConfig = BPartISConfig()) -> Segmentation:
    """Segment particles in an (H, W, 3) uint8 RGB image with BPartIS.

    Returns a :class:`Segmentation` at the input size: labels (H, W) uint16, per-pixel uncertainty
    (mutual information, nats; None in discriminative mode) and per-instance seed scores.
    """
    return get_bpartis(config.model, config.device).segment(image, config)


def segment_bpartis_many(images: Iterable[np.ndarray], *, config: BPartISConfig = BPartISConfig(),
                         images_per_batch: int | None = None) -> Iterator[Segmentation]:
    """:func:`segment_bpartis` of each image, in order, batching several images' MC samples per
    forward pass where that pays (``--device cuda``; see :meth:`BPartIS.segment_many`)."""
    return get_bpartis(config.model, config.device).segment_many(images, config, images_per_batch)
