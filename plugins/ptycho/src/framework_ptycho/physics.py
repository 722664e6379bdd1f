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

    Integer positions are exact; fractional ones are interpolated bilinearly. Each patch
    is read from an (n+2)-pixel window around it, moved by its fractional part only, so
    the cost grows with the patches, not with the whole object per patch. Pixels outside
    the object read as zero.
    """
    m, pad = obj.shape[-1], 2
    if obj.is_complex():
        padded = torch.complex(
            F.pad(obj.real, (pad, pad, pad, pad)), F.pad(obj.imag, (pad, pad, pad, pad))
        )
    else:
        padded = F.pad(obj, (pad, pad, pad, pad))
    left = xs.to(torch.float64) - n // 2
    top = ys.to(torch.float64) - n // 2
    x0, y0 = left.floor(), top.floor()
    fraction = torch.stack([x0 - left, y0 - top], dim=-1)[None].to(obj.real.dtype)
    side = n + 2
    lo = torch.stack([y0, x0], dim=-1).long() + pad
    if lo.min() < 0 or lo.max() + side > m + 2 * pad:
        raise ValueError("a scan position's patch lies outside the object")
    windows = torch.stack(
        [padded[r : r + side, c : c + side] for r, c in lo.tolist()]
    )  # (P, n+2, n+2)
    moved = translate(windows[None], fraction)[0]
    return moved[:, :n, :n]


def stitch(
    patches: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
    size: int,
    weights: torch.Tensor | None = None,
    align_phase: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average (P, n, n) complex patches into a size x size object at their positions.

    The inverse placement of `extract_patches`: pixel n//2 of patch i lands on object
    pixel (xs[i], ys[i]). With `weights` (P,), patch i is the sum of weights[i]
    predictions at one position and stitches like all of them. Returns the object and
    the coverage weight per pixel.

    Each patch is moved by the fractional part of its position with a two-tap bilinear
    filter, onto (n+1) x (n+1) pixels, and added at the integer part. For a translation
    this is the same sum as `translate` reading each zero-padded patch back, without
    moving P whole size x size canvases.

    `align_phase` rounds: a pattern's diffraction does not fix its patch's constant
    phase, so each round turns every patch to agree with the current average where they
    overlap (by the phase of its inner product with it) and averages again: one gather
    and one sum a round. Agreement spreads a few scan steps a round, so a round removes
    the patch-to-patch scatter of that phase and many rounds are needed for large,
    random offsets.
    """
    p, n = patches.shape[0], patches.shape[-1]
    dtype = patches.real.dtype
    first = (size - n) // 2 - size // 2  # object index of patch pixel 0 at position 0
    left, top = xs.to(dtype) + first, ys.to(dtype) + first
    x0, y0 = left.floor(), top.floor()
    ax, ay = (left - x0)[:, None, None, None], (top - y0)[:, None, None, None]
    count = torch.ones(p, dtype=dtype) if weights is None else weights.to(dtype)
    coverage = count[:, None, None].expand(p, n, n)
    values = torch.stack([patches.real, patches.imag, coverage], dim=1)
    values = F.pad(values, (0, 1, 0, 1))  # (P, 3, n+1, n+1)
    values = (1 - ax) * values + ax * values.roll(1, dims=-1)  # the rolled-in column is 0
    values = (1 - ay) * values + ay * values.roll(1, dims=-2)
    values = values.permute(0, 2, 3, 1).reshape(p, -1, 3)  # (P, (n+1)^2, 3)
    # A canvas wide enough for every patch (no bounds checks), cropped to the object after.
    lo = min(0, int(min(x0.min().item(), y0.min().item())))
    hi = max(size, int(max(x0.max().item(), y0.max().item())) + n + 1)
    side = hi - lo
    steps = torch.arange(n + 1, device=patches.device)
    rows = (y0.long() - lo)[:, None] + steps
    cols = (x0.long() - lo)[:, None] + steps
    index = (rows[:, :, None] * side + cols[:, None, :]).reshape(-1)
    acc = torch.zeros(side * side, 3, dtype=dtype, device=patches.device)
    acc.index_add_(0, index, values.reshape(-1, 3))
    placed = torch.complex(values[..., 0], values[..., 1]) if align_phase else values
    for _ in range(align_phase):
        mean = torch.complex(acc[:, 0], acc[:, 1]) / acc[:, 2].clamp_min(1e-3)
        turn = torch.sgn((placed * mean[index].reshape(p, -1).conj()).sum(dim=1)).conj()
        placed = placed * turn[:, None]
        acc[:, :2] = 0
        acc[:, :2].index_add_(0, index, torch.view_as_real(placed).reshape(-1, 2))
    acc = acc.reshape(side, side, 3)[-lo : size - lo, -lo : size - lo].reshape(-1, 3)
    total = torch.complex(acc[:, 0], acc[:, 1]).reshape(size, size)
    weight = acc[:, 2].reshape(size, size)
    obj = torch.where(weight > 1e-3, total / weight.clamp_min(1e-3), torch.zeros_like(total))
    return obj, weight
