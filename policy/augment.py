"""The training augmentation of camera images, drawn with the batch: DrQ's random shift, then small
brightness and contrast changes (hue is never touched: colours name objects).

Each sample's draw is made by the batch's random generator when the batch is sampled
(`draw_augmentation`), not inside the network's step, so a sample is augmented the same way whichever
data-parallel worker trains on it: N workers see exactly the samples one worker would at the same global
batch.
"""

from __future__ import annotations

import numpy as np
import torch

SHIFT_PAD = 4  # pixels: shifts of -4..4 (images padded by replication, then cropped back)
INTENSITY = 0.1  # gain in 1 ± 0.1, bias in ± 0.1 (normalized units)


def draw_augmentation(rng: np.random.Generator, size: int, cameras: list[str]) -> dict[str, torch.Tensor]:
    """Per camera, (size, 4): row and column offsets into the padded image, gain and bias."""
    draws = {}
    for cam in cameras:
        offsets = rng.integers(0, 2 * SHIFT_PAD + 1, size=(size, 2))
        intensity = 1 + rng.uniform(-INTENSITY, INTENSITY, size=(size, 1))
        bias = rng.uniform(-INTENSITY, INTENSITY, size=(size, 1))
        draws[cam] = torch.from_numpy(np.concatenate([offsets, intensity, bias], axis=1).astype(np.float32))
    return draws


def random_shift(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) images padded by replication and cropped back at each sample's (row, col) offset."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (SHIFT_PAD,) * 4, mode="replicate").permute(0, 2, 3, 1)
    offsets = offsets.long()
    rows = offsets[:, :1] + torch.arange(h, device=x.device)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def brightness_contrast(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Each sample's contrast scaled by `gain` around its mean, and `bias` added."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * gain.view(-1, 1, 1, 1) + mean + bias.view(-1, 1, 1, 1)


def augment(images: dict[str, torch.Tensor], draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Normalized (B, C, H, W) images per camera, augmented as `draws` (`draw_augmentation`) says."""
    out = {}
    for cam, x in images.items():
        d = draws[cam].to(x.device)
        out[cam] = brightness_contrast(random_shift(x, d[:, :2]), d[:, 2].to(x.dtype), d[:, 3].to(x.dtype))
    return out
