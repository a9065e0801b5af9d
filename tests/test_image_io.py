"""Image loading by real bit depth and orientation; output naming and output folders."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from yoda_sr.attention import AttentionConfig, build_importance_source
from yoda_sr.data.importance_cache import ImportanceCache
from yoda_sr.imaging import ImageReadError, load_image, output_prefixes, prepare_output_dir


def write_png16(path, array: np.ndarray) -> None:
    """Write a 16-bit PNG (grey, grey+alpha, RGB or RGBA) from a uint16 array by hand."""
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def ramp16(height: int = 16, width: int = 24) -> np.ndarray:
    return np.linspace(0, 65535, height * width).round().astype(np.uint16).reshape(height, width)


def test_16_bit_grayscale_png_is_scaled_by_65535_not_clipped_to_white(tmp_path):
    values = ramp16()
    Image.fromarray(values).save(tmp_path / "grey16.png")
    with Image.open(tmp_path / "grey16.png") as img:
        assert img.mode == "I;16"
    image = load_image(tmp_path / "grey16.png")
    expected = torch.from_numpy(values.astype(np.float32) / 65535.0)
    assert image.shape == (3, 16, 24)
    for channel in image:
        torch.testing.assert_close(channel, expected)


def test_16_bit_rgb_png_keeps_its_values_to_8_bit_precision(tmp_path):
    values = np.stack([ramp16(), ramp16()[::-1], np.full((16, 24), 30000, np.uint16)], axis=-1)
    write_png16(tmp_path / "rgb16.png", values)
    image = load_image(tmp_path / "rgb16.png").permute(1, 2, 0).numpy()
    assert np.abs(image - values / 65535.0).max() <= 1.0 / 255.0
    assert 0.45 < image[..., 2].mean() < 0.47


def test_float_tiff_in_unit_range_is_read_as_is(tmp_path):
    values = np.linspace(0.0, 1.0, 16 * 24, dtype=np.float32).reshape(16, 24)
    Image.fromarray(values).save(tmp_path / "float.tif")
    image = load_image(tmp_path / "float.tif")
    torch.testing.assert_close(image[1], torch.from_numpy(values))


def test_float_tiff_outside_unit_range_is_refused_naming_the_file(tmp_path):
    Image.fromarray(np.full((8, 8), 200.0, np.float32)).save(tmp_path / "hdr.tif")
    with pytest.raises(ImageReadError, match=r"hdr\.tif.*float values span \[200, 200\]"):
        load_image(tmp_path / "hdr.tif")


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((2, 4, 3), np.uint8)
    stored[0, 0] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to display
    Image.fromarray(stored).save(tmp_path / "turned.png", exif=exif)
    image = load_image(tmp_path / "turned.png")
    assert image.shape == (3, 4, 2)
    expected = np.rot90(stored, k=-1).astype(np.float32) / 255.0
    torch.testing.assert_close(image.permute(1, 2, 0), torch.from_numpy(expected.copy()))


def test_directory_given_as_image_is_named_as_a_directory(tmp_path):
    with pytest.raises(ImageReadError, match="is a directory"):
        load_image(tmp_path)


def test_inputs_sharing_a_stem_keep_their_extension_in_output_names(tmp_path):
    inputs = [tmp_path / "a.png", tmp_path / "a.jpg", tmp_path / "b.png"]
    out = tmp_path / "out"
    assert output_prefixes(inputs, out, ["_x4.png"]) == [out / "a.png", out / "a.jpg", out / "b"]


def test_same_file_name_in_two_folders_is_refused_before_any_work(tmp_path):
    inputs = [tmp_path / "one" / "a.png", tmp_path / "two" / "a.png"]
    with pytest.raises(ValueError, match=r"would both write .*a\.png_x4\.png"):
        output_prefixes(inputs, tmp_path / "out", ["_x4.png"])
    with pytest.raises(ValueError, match=r"one/a\.png is given twice"):
        output_prefixes([inputs[0], inputs[0]], tmp_path / "out", ["_x4.png"])


def test_an_output_that_would_overwrite_an_input_is_refused(tmp_path):
    inputs = [tmp_path / "a.png", tmp_path / "a_x4.png"]
    with pytest.raises(ValueError, match=r"would overwrite input .*a_x4\.png"):
        output_prefixes(inputs, tmp_path, ["_x4.png"])


def test_output_folder_that_is_a_file_or_unwritable_is_refused(tmp_path, monkeypatch):
    existing = tmp_path / "taken"
    existing.write_text("a file")
    with pytest.raises(ValueError, match="taken is an existing file"):
        prepare_output_dir(existing)
    with pytest.raises(ValueError, match="cannot create output folder"):
        prepare_output_dir(existing / "sub")
    locked = tmp_path / "locked"
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: p != locked and real_access(p, mode, **kw)
    )
    with pytest.raises(ValueError, match="locked is not writable"):
        prepare_output_dir(locked)


def test_corrupt_importance_cache_file_is_named_and_rebuilt(tmp_path):
    config = AttentionConfig(source="detail")
    cache = ImportanceCache(build_importance_source(config), config, tmp_path / "cache")
    lr = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    first = cache.get("digest", "recipe", lr, (32, 32))
    path = cache.path_for("digest", "recipe")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(UserWarning, match=f"{path.name}: corrupt importance cache file"):
        again = cache.get("digest", "recipe", lr, (32, 32))
    assert torch.equal(first, again)
    assert np.load(path).shape == (32, 32)
