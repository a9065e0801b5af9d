"""RRDBNet (ESRGAN generator) and its checkpoint loading."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import save_file

from yoda_sr.models.rrdb import RRDB, ResidualDenseBlock, RRDBConfig, RRDBNet
from yoda_sr.models.rrdb_files import RRDBCheckpointError, load_rrdb, load_rrdb_state_dict
from yoda_sr.settings import from_dict

TINY = {"num_features": 8, "num_blocks": 2, "growth_channels": 4}

# Independent BasicSR -> original ESRGAN name table (component by component).
ESRGAN_NAMES = {
    "body": "RRDB_trunk",
    "rdb1": "RDB1",
    "rdb2": "RDB2",
    "rdb3": "RDB3",
    "conv_body": "trunk_conv",
    "conv_up1": "upconv1",
    "conv_up2": "upconv2",
    "conv_up3": "upconv3",
    "conv_hr": "HRconv",
}


class NotATensor:
    """A pickled object that torch.load(weights_only=True) must refuse."""


def tiny_net(seed: int = 0, **overrides) -> RRDBNet:
    torch.manual_seed(seed)
    net = RRDBNet(**{**TINY, **overrides})
    # Non-zero biases so that a mis-mapped bias would change the output.
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.05)
    return net.eval()


def to_esrgan_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        ".".join(ESRGAN_NAMES.get(part, part) for part in k.split(".")): v for k, v in state.items()
    }


def outputs_match(a: RRDBNet, b: RRDBNet, lr: torch.Tensor) -> bool:
    with torch.no_grad():
        return torch.equal(a(lr), b(lr))


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("size", [(5, 7), (8, 8)])
def test_output_is_lr_size_times_scale(scale, size):
    net = tiny_net(scale=scale)
    lr = torch.rand(2, 3, *size)
    with torch.no_grad():
        sr = net(lr)
    assert sr.shape == (2, 3, size[0] * scale, size[1] * scale)
    assert torch.isfinite(sr).all()


def test_upsampling_layers_follow_basicsr_names():
    names = {k.split(".")[0] for k in tiny_net(scale=8).state_dict()}
    assert names == {
        "conv_first",
        "body",
        "conv_body",
        "conv_up1",
        "conv_up2",
        "conv_up3",
        "conv_hr",
        "conv_last",
    }
    keys = set(tiny_net(scale=2).state_dict())
    assert "conv_up1.weight" in keys and "conv_up2.weight" not in keys
    assert "body.1.rdb3.conv5.weight" in keys


@pytest.mark.parametrize("scale", [0, 3, 16])
def test_unsupported_scale_is_a_clear_error(scale):
    with pytest.raises(ValueError, match="scale must be one of"):
        RRDBConfig(scale=scale)


def test_rrdb_outer_residual_is_scaled_by_0_2():
    torch.manual_seed(0)
    rdb, rrdb = ResidualDenseBlock(8, 4), RRDB(8, 4)
    for block in (rdb, rrdb.rdb1, rrdb.rdb2, rrdb.rdb3):
        torch.nn.init.zeros_(block.conv5.weight)
        torch.nn.init.zeros_(block.conv5.bias)
    x = torch.randn(1, 8, 6, 6)
    assert torch.equal(rdb(x), x)  # dense block: x + 0.2 * conv5(...) with conv5 == 0
    torch.testing.assert_close(rrdb(x), x + 0.2 * x)  # RRDB: x + 0.2 * rdb3(rdb2(rdb1(x)))


def test_dense_block_output_is_input_plus_scaled_conv5():
    torch.manual_seed(0)
    rdb = ResidualDenseBlock(8, 4)
    x = torch.randn(1, 8, 6, 6)
    captured = {}
    rdb.conv5.register_forward_hook(lambda m, i, o: captured.setdefault("x5", o))
    out = rdb(x)
    torch.testing.assert_close(out, x + 0.2 * captured["x5"])


def test_features_are_every_stride_th_hidden_state():
    net = tiny_net(num_blocks=5, feature_stride=2)
    assert net.settings.feature_indices == [1, 3, 5]  # blocks 2, 4 and the fused trunk
    lr = torch.rand(1, 3, 6, 5)
    hidden = []
    for block in net.body:
        block.register_forward_hook(lambda m, i, o: hidden.append(o))
    with torch.no_grad():
        sr, feats = net.forward_features(lr)
        fused = net.conv_first(lr) + net.conv_body(hidden[-1])
    assert torch.equal(sr, net(lr))
    assert len(feats) == 3
    assert all(f.shape == (1, 8, 6, 5) for f in feats)
    assert torch.equal(feats[0], hidden[1]) and torch.equal(feats[1], hidden[3])
    torch.testing.assert_close(feats[2], fused)
    assert net.feature_channels == torch.cat(feats, 1).shape[1] == 24


def test_paper_encoder_uses_blocks_3_6_and_trunk():
    config = RRDBConfig(num_blocks=8, feature_stride=3)
    assert config.feature_indices == [2, 5, 8]
    assert config.feature_channels == 192


def test_feature_stride_beyond_blocks_is_rejected():
    with pytest.raises(ValueError, match="feature_stride"):
        RRDBConfig(num_blocks=2, feature_stride=4)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("layout", ["basicsr", "esrgan"])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, suffix, layout):
    net = tiny_net(num_blocks=3, scale=8)
    state = net.state_dict()
    if layout == "esrgan":
        state = to_esrgan_layout(state)
        assert "RRDB_trunk.2.RDB3.conv5.weight" in state and "HRconv.bias" in state
    path = tmp_path / f"rrdb{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    loaded = load_rrdb(path).eval()
    assert loaded.settings == dataclasses.replace(net.settings, feature_stride=3)
    assert outputs_match(net, loaded, torch.rand(1, 3, 5, 6))


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"params_ema": sd, "params": {k: torch.zeros_like(v) for k, v in sd.items()}},
        lambda sd: {"params": sd},
        lambda sd: {"state_dict": {"model": sd}, "epoch": 3},
        lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
    ],
)
def test_containers_are_unwrapped_preferring_ema(tmp_path, wrap):
    net = tiny_net()
    torch.save(wrap(net.state_dict()), tmp_path / "wrapped.pth")
    loaded = load_rrdb(tmp_path / "wrapped.pth").eval()
    assert outputs_match(net, loaded, torch.rand(1, 3, 4, 4))


def test_architecture_is_inferred_from_shapes():
    net = tiny_net(
        num_features=12, num_blocks=4, growth_channels=6, out_channels=1, in_channels=1, scale=2
    )
    _, config = load_rrdb_state_dict(net.state_dict())
    assert (config.num_features, config.num_blocks, config.growth_channels) == (12, 4, 6)
    assert (config.in_channels, config.out_channels, config.scale) == (1, 1, 2)


def test_real_esrgan_x2_pixel_unshuffle_variant_loads(tmp_path):
    net = tiny_net(scale=2, pixel_unshuffle=2)
    state = net.state_dict()
    assert state["conv_first.weight"].shape[1] == 12 and "conv_up2.weight" in state
    torch.save({"params_ema": state}, tmp_path / "RealESRGAN_x2plus.pth")
    loaded = load_rrdb(tmp_path / "RealESRGAN_x2plus.pth").eval()
    assert (loaded.settings.scale, loaded.settings.pixel_unshuffle) == (2, 2)
    lr = torch.rand(1, 3, 5, 7)  # odd sizes are padded before the unshuffle, output cropped
    assert outputs_match(net, loaded, lr)
    with torch.no_grad():
        assert loaded(lr).shape == (1, 3, 10, 14)


def test_missing_key_error_names_file_and_key(tmp_path):
    state = tiny_net().state_dict()
    del state["body.1.rdb2.conv3.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(RRDBCheckpointError, match="broken.pth") as err:
        load_rrdb_state_dict(path)
    assert "missing ['body.1.rdb2.conv3.weight']" in str(err.value)
    assert "BasicSR" in str(err.value)


def test_unexpected_key_and_wrong_shape_are_reported(tmp_path):
    state = tiny_net().state_dict()
    state["extra_head.weight"] = torch.zeros(3)
    state["conv_hr.weight"] = torch.zeros(8, 8, 1, 1)
    with pytest.raises(RRDBCheckpointError) as err:
        load_rrdb_state_dict(state)
    message = str(err.value)
    assert "unexpected ['extra_head.weight']" in message
    assert "conv_hr.weight: (8, 8, 1, 1) != (8, 8, 3, 3)" in message


def test_unknown_layout_lists_found_keys(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"encoder.weight": torch.zeros(2, 2), "decoder.bias": torch.zeros(2)}, path)
    with pytest.raises(RRDBCheckpointError, match="unrecognised key layout") as err:
        load_rrdb_state_dict(path)
    assert "other.safetensors" in str(err.value) and "decoder.bias" in str(err.value)
    assert "RRDB_trunk" in str(err.value)


def to_old_arch(state: dict[str, torch.Tensor], num_blocks: int) -> dict[str, torch.Tensor]:
    """The pre-2019 ESRGAN names, spelled out: model.0 = conv_first, model.1.sub.N.RDBM.convK.0
    = body.N.rdbM.convK, model.1.sub.<num_blocks> = conv_body, then [Upsample, conv, LReLU]
    per x2 (model.3, model.6, ...), HR conv, LReLU, last conv."""
    ups = sum(k.startswith("conv_up") and k.endswith(".weight") for k in state)
    top = {"conv_first": 0, "conv_body": None, "conv_hr": 3 * ups + 2, "conv_last": 3 * ups + 4}
    top.update({f"conv_up{i}": 3 * i for i in range(1, ups + 1)})
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":
            out[f"model.1.sub.{parts[1]}.RDB{parts[2][-1]}.{parts[3]}.0.{parts[4]}"] = value
        elif parts[0] == "conv_body":
            out[f"model.1.sub.{num_blocks}.{parts[1]}"] = value
        else:
            out[f"model.{top[parts[0]]}.{parts[1]}"] = value
    return out


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_old_arch_esrgan_layout_loads(tmp_path, scale):
    net = tiny_net(num_blocks=3, scale=scale)
    state = to_old_arch(net.state_dict(), num_blocks=3)
    assert "model.1.sub.2.RDB3.conv5.0.weight" in state and "model.1.sub.3.bias" in state
    torch.save(state, tmp_path / "old.pth")
    loaded = load_rrdb(tmp_path / "old.pth").eval()
    assert loaded.settings == dataclasses.replace(net.settings, feature_stride=3)
    assert outputs_match(net, loaded, torch.rand(1, 3, 5, 6))


def test_old_arch_with_a_pixel_shuffle_upsampler_is_a_clear_error():
    state = to_old_arch(tiny_net(scale=4).state_dict(), num_blocks=2)
    for old, new in ((3, 2), (6, 5)):  # [conv, PixelShuffle, LReLU] per x2: convs 2, 5
        for kind in ("weight", "bias"):
            state[f"model.{new}.{kind}"] = state.pop(f"model.{old}.{kind}")
    with pytest.raises(RRDBCheckpointError, match="model.2, model.5, model.8, model.10"):
        load_rrdb_state_dict(state)


def test_unsupported_scale_in_checkpoint_is_an_error():
    state = {k: v for k, v in tiny_net(scale=2).state_dict().items()}
    state["conv_first.weight"] = torch.zeros(8, 48, 3, 3)  # x4 unshuffle with x2 up -> scale 1/2
    with pytest.raises(RRDBCheckpointError, match="supported scales"):
        load_rrdb_state_dict(state)


def test_unsafe_pickle_and_bad_suffix_are_refused(tmp_path):
    path = tmp_path / "unsafe.pth"
    torch.save({"params": tiny_net().state_dict(), "extra": NotATensor()}, path)
    with pytest.raises(RRDBCheckpointError, match="unsafe.pth.*weights_only"):
        load_rrdb_state_dict(path)
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(RRDBCheckpointError, match="unsupported file type"):
        load_rrdb_state_dict(tmp_path / "weights.npz")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_rrdb_state_dict(tmp_path / "missing.pth")


def test_config_round_trips_through_dict():
    config = RRDBConfig(num_blocks=8, scale=8, feature_stride=2)
    assert from_dict(RRDBConfig, dataclasses.asdict(config), "rrdb") == config
    with pytest.raises(ValueError, match="unknown setting"):
        from_dict(RRDBConfig, {"num_blockz": 3}, "rrdb")


def test_global_residual_net_starts_as_the_identity_at_scale_1_and_still_learns():
    net = RRDBNet(**TINY, scale=1, pixel_unshuffle=4, global_residual=True)
    lr = torch.rand(2, 3, 12, 10)
    assert torch.equal(net(lr), lr)
    target = torch.rand_like(lr)
    (net(lr) - target).abs().mean().backward()
    assert net.conv_last.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("scale", [1, 4])
def test_global_residual_adds_the_matlab_bicubic_upsampled_input(scale):
    from yoda_sr.imaging import imresize

    skip = tiny_net(scale=scale, global_residual=True)
    plain = RRDBNet(**TINY, scale=scale)
    plain.load_state_dict(skip.state_dict())
    lr = torch.rand(1, 3, 6, 7)
    upsampled = lr if scale == 1 else imresize(lr, scale=scale).clamp(0, 1)
    with torch.no_grad():
        torch.testing.assert_close(skip(lr) - plain.eval()(lr), upsampled, atol=1e-5, rtol=0)


def test_global_residual_needs_as_many_output_as_input_channels():
    with pytest.raises(ValueError, match="in_channels"):
        RRDBConfig(in_channels=1, out_channels=3, global_residual=True)
