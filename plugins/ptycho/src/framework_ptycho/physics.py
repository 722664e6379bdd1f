"""Differentiable ptychography physics in torch: propagation, translation, merge, extract.

Sign convention (used everywhere in this plugin): a scan position (x, y) is the object
pixel at the centre of its N x N patch; a group's offsets are ``position - group centre``
in object pixels; ``translate(img, (dx, dy))`` moves content by +dx columns and +dy rows,
so a patch is placed on the group canvas at ``+offset`` and read back at ``-offset``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fft2c(field: torch.Tensor) -> torch.Tensor:
    """Orthonormal FFT with the zero frequency at the centre (energy is conserved)."""
    shifted = torch.fft.ifftshift(field, dim=(-2, -1))
    return torch.fft.fftshift(torch.fft.fft2(shifted, norm="ortho"), dim=(-2, -1))


def ifft2c(spectrum: torch.Tensor) -> torch.Tensor:
    """Inverse of `fft2c`."""
    shifted = torch.fft.ifftshift(spectrum, dim=(-2, -1))
    return torch.fft.fftshift(torch.fft.ifft2(shifted, norm="ortho"), dim=(-2, -1))


def _as_real_channels(img: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if img.is_complex():
        return torch.cat([img.real, img.imag], dim=1), True
    return img, False


def translate(img: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift every (B, C, H, W) image by sub-pixel ``shift`` (B, C, 2) = (dx, dy), bilinear.

    ``out[y, x] = img[y - dy, x - dx]``; pixels shifted in from outside are zero.
    """
    b, c, h, w = img.shape
    flat = img.reshape(b * c, 1, h, w)
    real, was_complex = _as_real_channels(flat)
    s = shift.reshape(b * c, 2).to(real.dtype)
    ys = torch.arange(h, dtype=real.dtype, device=img.device)
    xs = torch.arange(w, dtype=real.dtype, device=img.device)
    src_x = xs[None, None, :] - s[:, 0, None, None]  # (BC, 1, W)
    src_y = ys[None, :, None] - s[:, 1, None, None]  # (BC, H, 1)
    gx = (2 * src_x + 1) / w - 1
    gy = (2 * src_y + 1) / h - 1
    grid = torch.stack(torch.broadcast_tensors(gx, gy), dim=-1)  # (BC, H, W, 2)
    out = F.grid_sample(real, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if was_complex:
        out = torch.complex(out[:, :1], out[:, 1:])
    return out.reshape(b, c, h, w)


def pad_centre(img: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad the last two dims of `img` symmetrically to ``size x size``."""
    h = img.shape[-1]
    lo = (size - h) // 2
    hi = size - h - lo
    if img.is_complex():
        return torch.complex(F.pad(img.real, (lo, hi, lo, hi)), F.pad(img.imag, (lo, hi, lo, hi)))
    return F.pad(img, (lo, hi, lo, hi))


def crop_centre(img: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size x size`` of the last two dims."""
    h = img.shape[-1]
    lo = (h - size) // 2
    return img[..., lo : lo + size, lo : lo + size]


def central_mask(n: int, inner: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """An n x n float mask, ones on the central inner x inner square."""
    mask = torch.zeros(n, n, device=device)
    lo = (n - inner) // 2
    mask[lo : lo + inner, lo : lo + inner] = 1.0
    return mask


def canvas_size(n: int, offsets: torch.Tensor) -> int:
    """An even canvas side that holds every patch of a group at its offset."""
    reach = int(torch.ceil(offsets.abs().max()).item()) if offsets.numel() else 0
    return n + 2 * (reach + 1)


def merge(patches: torch.Tensor, offsets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Merge a group's (B, C, n, n) patches at their (B, C, 2) offsets on one canvas.

    The central mask weights numerator and denominator alike, so overlapping pixels
    average and the patch borders (outside what the network predicts) are ignored.
    Returns (B, 1, S, S) with S from `canvas_size`.
    """
    n = patches.shape[-1]
    size = canvas_size(n, offsets)
    weights = mask.expand(patches.shape).to(patches.real.dtype)
    num = translate(pad_centre(patches * weights, size), offsets).sum(dim=1, keepdim=True)
    den = translate(pad_centre(weights, size), offsets).sum(dim=1, keepdim=True)
    covered = den > 1e-3
    return torch.where(covered, num / den.clamp_min(1e-3), torch.zeros_like(num))


def extract(canvas: torch.Tensor, offsets: torch.Tensor, n: int) -> torch.Tensor:
    """Read (B, C, n, n) patches back from a (B, 1, S, S) canvas at their offsets."""
    c = offsets.shape[1]
    moved = translate(canvas.expand(-1, c, -1, -1), -offsets)
    return crop_centre(moved, n)


def diffraction_amplitude(obj_patches: torch.Tensor, probe: torch.Tensor) -> torch.Tensor:
    """|FFT(probe * object patch)|: the far-field amplitude a detector would measure."""
    return fft2c(obj_patches * probe).abs()


def extract_patches(obj: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, n: int) -> torch.Tensor:
    """(P, n, n) patches of a (M, M) object; pixel n//2 of patch i is object pixel (xs[i], ys[i]).

    Integer positions are exact; fractional ones are interpolated bilinearly.
    """
    m = obj.shape[-1]
    centre = m // 2  # move each position to the canvas centre, then crop around it
    shift = torch.stack([centre - xs, centre - ys], dim=-1)[None].to(obj.real.dtype)
    stack = obj[None, None].expand(1, xs.shape[0], m, m)
    moved = translate(stack, shift)[0]
    lo = centre - n // 2
    return moved[:, lo : lo + n, lo : lo + n]


def stitch(
    patches: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, size: int, chunk: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average (P, n, n) complex patches into a size x size object at their positions.

    The inverse placement of `extract_patches`: pixel n//2 of patch i lands on object
    pixel (xs[i], ys[i]). Returns the object and the coverage weight per pixel.
    """
    n = patches.shape[-1]
    total = torch.zeros(size, size, dtype=patches.dtype)
    weight = torch.zeros(size, size)
    ones = torch.ones(n, n)
    for start in range(0, patches.shape[0], chunk):
        part = patches[start : start + chunk]
        shift = torch.stack(
            [xs[start : start + chunk] - size // 2, ys[start : start + chunk] - size // 2], dim=-1
        )[None].float()
        placed = translate(pad_centre(part, size)[None], shift)[0]
        cover = translate(pad_centre(ones.expand(part.shape[0], n, n), size)[None], shift)[0]
        total += placed.sum(0)
        weight += cover.sum(0)
    obj = torch.where(weight > 1e-3, total / weight.clamp_min(1e-3), torch.zeros_like(total))
    return obj, weight
