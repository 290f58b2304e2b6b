"""Training data: images resized to the model's canvas, random crops and the paper's augmentations."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..datasets import Sample


def resize_pair(image: np.ndarray, instances: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize an (H, W, 3) uint8 image (bicubic) and its (H, W) instance map (nearest) to size x size."""
    resized = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))
    labels = np.asarray(Image.fromarray(instances.astype(np.int32)).resize((size, size), Image.Resampling.NEAREST))
    return resized, labels.astype(np.int32)


def load_resized(samples: list[Sample], size: int, cache_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load and resize samples to (N, size, size, 3) uint8 images and (N, size, size) int32 maps.

    With ``cache_dir`` the arrays are kept in an .npz keyed by the sample names and size, so resumed
    runs skip the decoding.
    """
    key = hashlib.sha256(("\n".join(s.name for s in samples) + f"@{size}").encode()).hexdigest()[:16]
    cache = cache_dir / f"resized-{key}.npz" if cache_dir else None
    if cache and cache.exists():
        with np.load(cache) as data:
            return data["images"], data["labels"]
    images = np.empty((len(samples), size, size, 3), np.uint8)
    labels = np.empty((len(samples), size, size), np.int32)
    for i, sample in enumerate(samples):
        images[i], labels[i] = resize_pair(*sample.load(), size)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, images=images, labels=labels)
    return images, labels


def colour_jitter(image: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Random brightness, contrast, saturation (factors in [1-s, 1+s]) and hue (rotation of up to
    s * pi in YIQ space) of a (3, H, W) image in [0, 1], applied in random order."""

    def factor() -> float:
        return 1.0 + strength * (2.0 * torch.rand((), generator=generator).item() - 1.0)

    def brightness(x: torch.Tensor) -> torch.Tensor:
        return x * factor()

    def contrast(x: torch.Tensor) -> torch.Tensor:
        mean = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).mean()
        return (x - mean) * factor() + mean

    def saturation(x: torch.Tensor) -> torch.Tensor:
        grey = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)
        return (x - grey) * factor() + grey

    def hue(x: torch.Tensor) -> torch.Tensor:
        angle = math.pi * strength * (2.0 * torch.rand((), generator=generator).item() - 1.0)
        to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
        c, s = math.cos(angle), math.sin(angle)
        rotate = torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
        matrix = torch.linalg.inv(to_yiq) @ rotate @ to_yiq
        return torch.einsum("ij,jhw->ihw", matrix, x)

    ops = [brightness, contrast, saturation, hue]
    for i in torch.randperm(4, generator=generator).tolist():
        image = ops[i](image).clamp(0.0, 1.0)
    return image


def warp_window(
    image: np.ndarray, labels: np.ndarray, crop: int, window: int, *, rotate: bool, distort_px: float, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A crop x crop view of a window x window square of (H, W, 3) ``image`` and (H, W) ``labels`` at
    a random centre, rotated by a uniform random angle (``rotate``) and elastically distorted: random
    displacements (standard deviation ``distort_px``, in output pixels) on a coarse 3 x 3 grid,
    bicubically interpolated, as in Ronneberger et al. (2015). Bilinear image, nearest labels;
    reflected at the image border."""
    h, w = labels.shape
    half = window / 2.0
    cy = half + torch.rand((), generator=generator).item() * max(h - window, 0)
    cx = half + torch.rand((), generator=generator).item() * max(w - window, 0)
    angle = 2.0 * math.pi * torch.rand((), generator=generator).item() if rotate else 0.0
    scale = window / crop
    ys, xs = np.mgrid[:crop, :crop].astype(np.float32) - (crop - 1) / 2.0
    if distort_px > 0:
        coarse = (torch.randn((2, 3, 3), generator=generator) * distort_px).numpy()
        xs = xs + cv2.resize(coarse[0], (crop, crop), interpolation=cv2.INTER_CUBIC)
        ys = ys + cv2.resize(coarse[1], (crop, crop), interpolation=cv2.INTER_CUBIC)
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    map_x = (cx + c * xs - s * ys).astype(np.float32)
    map_y = (cy + s * xs + c * ys).astype(np.float32)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    # remap has no int32 support; instance ids are exact in float32 (far below 2**24).
    warped_labels = cv2.remap(labels.astype(np.float32), map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
    return warped, warped_labels.astype(np.int32)


class AugmentedCrops(Dataset):
    """Random crops of canvas-sized images with flips, right-angle rotations and colour jitter.

    Each item is (image (3, crop, crop) float in [0, 1], instances (crop, crop) int64). With
    probability ``zoom_probability`` the crop is taken at half size and scaled back up (bicubic
    image, nearest labels), the paper's zoom augmentation. ``rotate`` (any angle) and ``distort_px``
    (elastic distortion, see :func:`warp_window`) add the U-Net's augmentations; both off by default.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        crop: int,
        *,
        seed: int = 0,
        zoom_probability: float = 0.5,
        jitter: float = 0.3,
        rotate: bool = False,
        distort_px: float = 0.0,
    ) -> None:
        self.images, self.labels, self.crop = images, labels, crop
        self.zoom_probability, self.jitter = zoom_probability, jitter
        self.rotate, self.distort_px = rotate, distort_px
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (), generator=self.generator))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, labels = self.images[index], self.labels[index]
        zoom = torch.rand((), generator=self.generator).item() < self.zoom_probability
        window = self.crop // 2 if zoom else self.crop
        window = min(window, image.shape[0], image.shape[1])
        if self.rotate or self.distort_px > 0:
            image, labels = warp_window(image, labels, self.crop, window, rotate=self.rotate, distort_px=self.distort_px,
                                        generator=self.generator)
        else:
            y, x = self._randint(image.shape[0] - window + 1), self._randint(image.shape[1] - window + 1)
            image, labels = image[y : y + window, x : x + window], labels[y : y + window, x : x + window]
            if window != self.crop:
                image, labels = resize_pair(image, labels, self.crop)
        tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0
        target = torch.from_numpy(np.array(labels)).long()
        if self._randint(2):
            tensor, target = tensor.flip(-1), target.flip(-1)
        if self._randint(2):
            tensor, target = tensor.flip(-2), target.flip(-2)
        turns = self._randint(4)
        tensor, target = torch.rot90(tensor, turns, (-2, -1)), torch.rot90(target, turns, (-2, -1))
        if self.jitter > 0:
            tensor = colour_jitter(tensor, self.jitter, self.generator)
        return tensor.contiguous(), target.contiguous()
