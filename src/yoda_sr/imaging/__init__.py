"""Pixels and image files: reading and writing, MATLAB bicubic resizing, 8-bit quantisation,
mod-crop and the benchmarks' LR images. Imports nothing else of yoda_sr but
:mod:`yoda_sr.files`."""

from yoda_sr.imaging.io import (
    IMAGE_SUFFIXES,
    ImageReadError,
    list_images,
    load_image,
    output_folder,
    output_prefixes,
    prepare_output_dir,
    quantize,
    read_image_size,
    save_image,
    to_uint8,
)
from yoda_sr.imaging.resize import downscale, imresize, make_lr, mod_crop, upscale_bicubic

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "downscale",
    "imresize",
    "list_images",
    "load_image",
    "make_lr",
    "mod_crop",
    "output_folder",
    "output_prefixes",
    "prepare_output_dir",
    "quantize",
    "read_image_size",
    "save_image",
    "to_uint8",
    "upscale_bicubic",
]
