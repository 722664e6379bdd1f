"""DINOv3 ViT-S/16, written from the published architecture, loading official weights.

Patch 16, width 384, 12 blocks of 6 heads, 4 register ("storage") tokens, rotary
position embeddings on the patch tokens, layer scale, final LayerNorm. Parameter and
buffer names follow the official checkpoints (`storage_tokens`, `blocks.N.ls1.gamma`,
`blocks.N.attn.qkv.bias_mask`, `rope_embed.periods`, ...), so a file such as
dinov3_vits16_pretrain_lvd1689m-*.pth loads with a strict key check. Features are the
normalised CLS token and the mean patch token, concatenated (768 values).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from framework_classifier.backbones.common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocess,
    freeze,
    load_strict,
    read_state_dict,
)

PATCH, DIM, DEPTH, HEADS, REGISTERS = 16, 384, 12, 6, 4
ROPE_BASE = 100.0
INIT_SEED = 0


def rope_periods(head_dim: int, base: float = ROPE_BASE) -> torch.Tensor:
    """head_dim/4 periods, geometric from 1 to base: one per rotated pair and axis."""
    quarter = head_dim // 4
    return base ** (2 * torch.arange(quarter, dtype=torch.float32) / (head_dim // 2))


class RopeEmbedding(nn.Module):
    """Rotation angles of each patch from its centre, in [-1, 1] per axis."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.register_buffer("periods", rope_periods(head_dim))

    def forward(self, rows: int, cols: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.periods.device
        ys = (torch.arange(rows, device=device, dtype=torch.float32) + 0.5) / rows * 2 - 1
        xs = (torch.arange(cols, device=device, dtype=torch.float32) + 0.5) / cols * 2 - 1
        coords = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).flatten(0, 1)
        angles = 2 * math.pi * coords[:, :, None] / self.periods[None, None, :]
        angles = angles.flatten(1, 2).tile(2)  # (patches, head_dim)
        return angles.sin(), angles.cos()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


class LinearKMaskedBias(nn.Linear):
    """The qkv projection; `bias_mask` zeroes the key bias, as in the official model."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, 3 * dim)
        mask = torch.ones(3 * dim)
        mask[dim : 2 * dim] = 0.0
        self.register_buffer("bias_mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias * self.bias_mask.to(self.bias.dtype))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = LinearKMaskedBias(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).view(batch, tokens, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, tokens, head_dim)
        sin, cos = rope
        prefix = tokens - sin.shape[0]  # CLS and registers are not rotated
        q = torch.cat(
            [q[:, :, :prefix], q[:, :, prefix:] * cos + rotate_half(q[:, :, prefix:]) * sin], 2
        )
        k = torch.cat(
            [k[:, :, :prefix], k[:, :, prefix:] * cos + rotate_half(k[:, :, prefix:]) * sin], 2
        )
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, 4 * dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x), rope))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=PATCH, stride=PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class DinoV3ViTS16(nn.Module):
    feature_dim = 2 * DIM
    input_size = 224
    expects_weights = True

    def __init__(self, size: int | None = None) -> None:
        super().__init__()
        self.input_size = size or DinoV3ViTS16.input_size
        if self.input_size % PATCH:
            raise ValueError(f"dinov3_vits16 needs an image size divisible by {PATCH}")
        self.preprocess = Preprocess(self.input_size, IMAGENET_MEAN, IMAGENET_STD)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(INIT_SEED)
            self.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, DIM))
            self.storage_tokens = nn.Parameter(0.02 * torch.randn(1, REGISTERS, DIM))
            self.mask_token = nn.Parameter(torch.zeros(1, DIM))
            self.patch_embed = PatchEmbed(DIM)
            self.rope_embed = RopeEmbedding(DIM // HEADS)
            self.blocks = nn.ModuleList(Block(DIM, HEADS) for _ in range(DEPTH))
            self.norm = nn.LayerNorm(DIM, eps=1e-5)
        self.pretrained = False
        self.weights_source = "random initialisation"

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """All output tokens (B, 1 + registers + patches, DIM) after the final norm."""
        patches = self.patch_embed(self.preprocess(images))
        rows, cols = patches.shape[-2:]
        x = patches.flatten(2).transpose(1, 2)
        batch = x.shape[0]
        x = torch.cat(
            [self.cls_token.expand(batch, -1, -1), self.storage_tokens.expand(batch, -1, -1), x], 1
        )
        rope = self.rope_embed(rows, cols)
        rope = (rope[0].to(x.dtype), rope[1].to(x.dtype))
        for block in self.blocks:
            x = block(x, rope)
        return self.norm(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.tokens(images)
        return torch.cat([x[:, 0], x[:, 1 + REGISTERS :].mean(dim=1)], dim=1)


def derivable_keys(model: nn.Module) -> list[str]:
    """Buffers the model computes itself; official files carry them, others may not."""
    return [k for k in model.state_dict() if k.endswith(("bias_mask", "rope_embed.periods"))]


def build(weights: str | None = None, image_size: int = 0) -> DinoV3ViTS16:
    model = DinoV3ViTS16(image_size or None)
    if weights:
        state = read_state_dict(weights)
        load_strict(model, state, f"--backbone-weights {weights}", derivable_keys(model))
        model.pretrained, model.weights_source = True, str(weights)
    return freeze(model)
