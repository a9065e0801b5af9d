"""``YodaPipeline``: LR images in, SR images out, with or without YODA masks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub import CommitInfo
from torch import Tensor

import yoda_sr.pipeline.memory as memory
from yoda_sr.attention import ImportanceSource, build_importance_source
from yoda_sr.config import ExperimentConfig
from yoda_sr.device import resolve_device
from yoda_sr.diffusion import make_scheduler, yoda_sample
from yoda_sr.models import SettingsModel, SRBackbone, bicubic_up
from yoda_sr.pipeline.card import HUB_CARD, hub_card
from yoda_sr.pipeline.color_fix import apply_color_fix
from yoda_sr.pipeline.components import load_model, save_components
from yoda_sr.pipeline.hub import push_folder, resolve_model_folder
from yoda_sr.pipeline.options import (
    DEFAULT_DENSE_ABOVE,
    DEFAULT_SPARSE_HALO,
    DEFAULT_TILE_OVERLAP,
    SamplingOptions,
    resolve_options,
)
from yoda_sr.pipeline.sparse import WindowedDenoiser


@dataclass
class UpscaleOutput:
    """``images``: (B, 3, H, W) in [0, 1]. ``importance``: (B, 1, H, W) in [0, 1] or None
    (no YODA / regression model). ``denoiser_calls`` and ``active_fraction`` (per visited
    step) come from the sampler; ``timesteps`` are the visited diffusers indices.
    ``tiles_evaluated`` windows (tiles) of ``tiles_total`` grid cells were evaluated over the
    chain (the others had no active pixel under the mask; 0 when only full-image calls ran).
    ``network_calls`` counts forward passes of the network (a sparse step batches its
    windows into one, or a few with many windows);
    ``pixels_evaluated`` the pixels fed to it, against ``pixels_dense`` for full-image calls
    at every visited step."""

    images: Tensor
    importance: Tensor | None = None
    denoiser_calls: int = 0
    active_fraction: list[float] = field(default_factory=list)
    timesteps: list[int] = field(default_factory=list)
    tiles_evaluated: int = 0
    tiles_total: int = 0
    network_calls: int = 0
    pixels_evaluated: int = 0
    pixels_dense: int = 0

    @property
    def ideal_speedup(self) -> float:
        """All pixel-steps / active pixel-steps of the visited masks (1.0 without YODA)."""
        active = sum(self.active_fraction)
        return len(self.active_fraction) / active if active > 0 else float("inf")

    @property
    def evaluated_fraction(self) -> float:
        """Pixels this run fed to the network / pixels a dense run feeds it (0 when none)."""
        return self.pixels_evaluated / self.pixels_dense if self.pixels_dense else 0.0


class YodaPipeline:
    """Upscale LR images with a trained backbone (SR3, SRDiff) or a regression RRDB."""

    def __init__(
        self,
        model: SettingsModel,
        config: ExperimentConfig,
        importance_source: ImportanceSource | None = None,
        device: str | torch.device | None = "cpu",
    ) -> None:
        self.config = config
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cpu":
            # channels_last convolutions: 1.04x faster sampling on the CPU, outputs within
            # 1e-6 (136.5 dB PSNR against contiguous; benchmarks/cpu_speed.py, README).
            self.model.to(memory_format=torch.channels_last)
        self._importance_source = importance_source

    @property
    def is_diffusion(self) -> bool:
        return isinstance(self.model, SRBackbone)

    @property
    def scale(self) -> int:
        return self.config.model.scale

    def load_importance_source(self) -> ImportanceSource:
        """The importance source, built on first use from ``config.attention`` (a ViT is only
        loaded when YODA needs it; call this early to fail fast on missing weights)."""
        if self._importance_source is None:
            self._importance_source = build_importance_source(self.config.attention)
        return self._importance_source.to(self.device)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        device: str | torch.device | None = "cpu",
        weights: str = "ema",
        revision: str | None = None,
    ) -> YodaPipeline:
        """Rebuild from a ``save_pretrained`` folder (this version's or an earlier one's), a
        training run folder (newest checkpoint), a bundled model name (``srdiff-yoda-x4``,
        ...; see :mod:`yoda_sr.pipeline.bundled`) or a Hugging Face Hub repo id
        (``owner/name``, at ``revision``; downloaded once, then cached). A bundled name
        wins over a local folder of the same spelling (reach that one as ``./name``), and an
        existing local path over a Hub id.

        ``weights``: "ema" (default) or "model" for a training run's raw weights. ``device``
        None picks cuda when available. A model that cannot be found raises
        :class:`~yoda_sr.pipeline.hub.ModelNotFoundError` (a FileNotFoundError) saying how to
        provide one; a missing device, a corrupt weights file or weights that do not fit the
        config raise ValueError naming the device or file.
        """
        device = resolve_device(device)
        model, config = load_model(resolve_model_folder(name_or_path, revision), weights)
        return cls(model, config, device=device)

    def save_pretrained(self, path: str | Path, dtype: torch.dtype | None = None) -> None:
        """Write one folder per component (backbone, scheduler, importance settings; see
        :mod:`yoda_sr.pipeline.components`); loads back with :meth:`from_pretrained`.
        ``dtype`` (e.g. ``torch.float16``): store the weights in it (half the size); they are
        cast back to float32 on load."""
        save_components(self.model, self.config, Path(path), dtype)

    def push_to_hub(
        self,
        repo_id: str,
        private: bool | None = None,
        token: str | None = None,
        commit_message: str = "Upload yoda-sr pipeline",
    ) -> CommitInfo:
        """Upload what :meth:`save_pretrained` writes, and a model card (``README.md``, see
        :func:`~yoda_sr.pipeline.card.hub_card`), to Hub model repo ``repo_id`` (created if
        needed) as one commit; ``from_pretrained(repo_id)`` loads it back."""

        def write(folder: Path) -> None:
            self.save_pretrained(folder)
            card = hub_card(repo_id, self.model, self.config)
            (folder / HUB_CARD).write_text(card, encoding="utf-8")

        return push_folder(write, repo_id, private, token, commit_message)

    def sampling_options(
        self,
        sampler: str | None = None,
        num_inference_steps: int | None = None,
        eta: float | None = None,
        use_yoda: bool = True,
        lower_bound: float | None = None,
        tile: int | None = None,
        tile_overlap: int = DEFAULT_TILE_OVERLAP,
        sparse: bool | None = None,
        sparse_halo: int = DEFAULT_SPARSE_HALO,
        color_fix: str | None = None,
    ) -> SamplingOptions:
        """The options a call with these arguments samples with (None: the config's or
        library's default); ValueError names the first one out of range (see
        :func:`resolve_options`)."""
        return resolve_options(
            self.config,
            self.is_diffusion,
            sampler=sampler,
            steps=num_inference_steps,
            eta=eta,
            use_yoda=use_yoda,
            lower_bound=lower_bound,
            tile=tile,
            tile_overlap=tile_overlap,
            sparse=sparse,
            sparse_halo=sparse_halo,
            color_fix=color_fix,
        )

    def estimate_memory(self, lr_size: tuple[int, int], tile: int | None = None) -> int:
        """Estimated peak bytes of upscaling one LR image of ``lr_size`` (h, w) with ``tile``
        (see :mod:`yoda_sr.pipeline.memory`)."""
        h, w = lr_size
        if not self.is_diffusion:
            hr = (h * self.scale, w * self.scale)
            return memory.estimate_upscale_bytes(self.config.model, hr, hr)
        lr_multiple = self._lr_multiple()
        hr = (
            math.ceil(h / lr_multiple) * lr_multiple * self.scale,
            math.ceil(w / lr_multiple) * lr_multiple * self.scale,
        )
        if tile is None:
            return memory.estimate_upscale_bytes(self.config.model, hr, hr)
        tile_multiple = math.lcm(self.model.required_multiple, self.scale)
        side = math.ceil(tile / tile_multiple) * tile_multiple
        return memory.estimate_upscale_bytes(self.config.model, hr, (side, side))

    def check_memory(
        self, lr_size: tuple[int, int], tile: int | None = None, name: str = "image"
    ) -> None:
        """Raise :class:`~yoda_sr.pipeline.memory.InsufficientMemoryError` when upscaling an
        LR image of ``lr_size`` (h, w) is estimated to need more memory than the device has
        available; the message names ``name`` and suggests a tile size that fits."""
        available = memory.available_memory_bytes(self.device)
        needed = self.estimate_memory(lr_size, tile)
        if available is None or needed <= available:
            return
        h, w = lr_size
        fits = [
            size
            for size in memory.TILE_CHOICES
            if (tile is None or size < tile)
            and size < max(h, w) * self.scale
            and self.estimate_memory(lr_size, size) <= available
        ]
        tileable = self.is_diffusion and self.model.grid_factor == 1
        suggested = fits[0] if tileable and fits else None
        if suggested is not None:
            advice = (
                f"tile the network, e.g. --tile {suggested} (tile={suggested}; about "
                f"{memory.format_bytes(self.estimate_memory(lr_size, suggested))})"
            )
        elif tileable:
            advice = (
                "even with --tile 64 the full-size buffers of the sampling loop do not fit; "
                "upscale a smaller image or crop it"
            )
        elif self.is_diffusion:
            advice = "a latent model cannot be tiled; upscale a smaller image or crop it"
        else:
            advice = "this regression model cannot be tiled; upscale a smaller image or crop it"
        raise memory.InsufficientMemoryError(
            f"{name}: upscaling {h}x{w} by x{self.scale} needs about "
            f"{memory.format_bytes(needed)}, but only {memory.format_bytes(available)} of "
            f"{self.device.type} memory is available; {advice}",
            suggested,
        )

    @torch.no_grad()
    def importance(self, lr: Tensor, condition: dict[str, Tensor] | None = None) -> Tensor:
        """Importance maps (B, 1, h*s, w*s) in [0, 1] of LR images (B, 3, h, w) in [0, 1].

        With ``yoda.importance_input: estimate`` the source sees the image the anchor holds
        (at output size) instead of ``lr``; ``condition``: the backbone's condition of the
        padded ``lr`` (:meth:`__call__`'s), computed here when None.
        """
        size = (lr.shape[-2] * self.scale, lr.shape[-1] * self.scale)
        image = lr.to(self.device)
        if self.config.yoda.importance_input == "estimate":
            if condition is None:
                condition = self.model.condition(self._pad(image)[0])
            anchor = self.model.anchor(condition)
            image = self.model.to_image(anchor, condition)[..., : size[0], : size[1]]
        return self.load_importance_source()(image, size).float()

    @torch.no_grad()
    def __call__(
        self,
        lr: Tensor,
        sampler: str | None = None,
        num_inference_steps: int | None = None,
        eta: float | None = None,
        use_yoda: bool = True,
        lower_bound: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        importance: Tensor | None = None,
        progress: bool = False,
        tile: int | None = None,
        tile_overlap: int = DEFAULT_TILE_OVERLAP,
        sparse: bool | None = None,
        sparse_halo: int = DEFAULT_SPARSE_HALO,
        step_callback: Callable[[int, int], None] | None = None,
        color_fix: str | None = None,
    ) -> UpscaleOutput:
        """Super-resolve ``lr`` (B, 3, h, w) in [0, 1] by ``scale``.

        Any size works: the LR is padded (replicate) so the HR size fits the UNet and the
        result is cropped back. ``importance`` (B, 1, h*s, w*s) overrides the attention source.
        Options left None come from the config (see :meth:`sampling_options`).
        ``generator``: a list of one per image makes each image's noise independent of the
        batch it is sampled in.
        ``tile`` (HR px) runs the network per step on tiles of that size (bounded memory):
        each writes only its core, ``tile_overlap`` px (the halo of context) from its borders,
        and cores with no active YODA pixel are skipped; see :mod:`yoda_sr.pipeline.sparse`.
        ``sparse`` evaluates the network at each step only on windows around the pixels the
        YODA mask diffuses (see :mod:`yoda_sr.pipeline.sparse`), with ``sparse_halo`` HR px
        of context around each window's core; False: full-image calls.
        ``step_callback(done, total)`` is called after every sampling step (not for a
        regression model, which takes none).
        ``color_fix`` ("none", "wavelet", "adain"; None: the config's ``sampling.color_fix``)
        corrects the output's colour towards the bicubic-upsampled LR after sampling (see
        :mod:`yoda_sr.pipeline.color_fix`).
        """
        options = self.sampling_options(
            sampler,
            num_inference_steps,
            eta,
            use_yoda,
            lower_bound,
            tile,
            tile_overlap,
            sparse,
            sparse_halo,
            color_fix,
        )
        lr = lr.to(self.device).float()
        if not self.is_diffusion:
            images = self.model(lr).clamp(0.0, 1.0)
            return UpscaleOutput(images=self._color_fix(images, lr, options.color_fix))
        if self.model.grid_factor > 1 and (options.tile is not None or options.sparse):
            raise ValueError(
                "tiled and sparse sampling cut windows on the image grid; a latent model "
                "(model.type resshift_latent) samples whole images: tile=None, sparse=False"
            )
        h, w = lr.shape[-2:]
        lr_padded, pad = self._pad(lr)
        cond = self.model.condition(lr_padded)
        if options.use_yoda and importance is None:
            importance = self.importance(lr, cond)
        imp_padded = None
        if options.use_yoda and importance is not None:
            s = self.scale
            imp_padded = F.pad(importance.to(self.device), [p * s for p in pad], mode="replicate")
        assert options.sampler is not None and options.eta is not None  # set for diffusion
        scheduler = make_scheduler(self.config.diffusion, options.sampler)
        denoiser = self._denoiser(options)
        # Without tiles or sparse windows every network call sees the whole image.
        whole = options.tile is None and not options.sparse
        result = yoda_sample(
            denoiser,
            scheduler,
            anchor=self.model.anchor(cond),
            importance=imp_padded,
            condition=self.model.sampling_condition(cond) if whole else cond,
            # Without YODA there is no importance map: every pixel is diffused, as with l = 1.
            lower_bound=1.0 if options.lower_bound is None else options.lower_bound,
            num_inference_steps=options.steps,
            eta=options.eta,
            generator=generator,
            anchor_noise=options.anchor_noise,
            progress=progress,
            step_callback=step_callback,
            grid_pooling=self.config.yoda.grid_pooling,
        )
        images = self.model.to_image(result.sample, cond)[..., : h * self.scale, : w * self.scale]
        return UpscaleOutput(
            images=self._color_fix(images, lr, options.color_fix),
            importance=importance if options.use_yoda else None,
            denoiser_calls=result.denoiser_calls,
            active_fraction=result.active_fraction,
            timesteps=result.timesteps,
            tiles_evaluated=denoiser.stats.windows,
            tiles_total=denoiser.stats.cores_total if denoiser.stats.windows else 0,
            network_calls=denoiser.stats.calls,
            pixels_evaluated=denoiser.stats.pixels_evaluated,
            pixels_dense=len(result.timesteps) * result.sample[:, 0].numel(),
        )

    def _color_fix(self, images: Tensor, lr: Tensor, method: str) -> Tensor:
        """``images`` (B, 3, H, W) with their colour corrected by ``method`` towards the
        MATLAB-bicubic upsampled ``lr`` (the backbones' ``lr_up``)."""
        if method == "none":
            return images
        return apply_color_fix(images, (bicubic_up(lr, self.scale) + 1.0) / 2.0, method)

    def _denoiser(self, options: SamplingOptions) -> WindowedDenoiser:
        """The network wrapped for ``options``: full-image calls (dense), windows around the
        active pixels (sparse), and with a tile, windows of at most ``tile`` px a side."""
        multiple = math.lcm(self.model.required_multiple, self.scale)
        if options.tile is None:
            return WindowedDenoiser(
                self.model,
                options.sparse_cores,
                options.sparse_halo,
                multiple,
                dense_above=DEFAULT_DENSE_ABOVE if options.sparse else 0.0,
            )
        tile = math.ceil(options.tile / multiple) * multiple
        halo = min(
            math.ceil(options.tile_overlap / multiple) * multiple,
            (tile - multiple) // 2 // multiple * multiple,
        )
        core = tile - 2 * halo
        cores = [size for size in options.sparse_cores if size < core] if options.sparse else []
        return WindowedDenoiser(
            self.model,
            (*cores, core),
            halo,
            multiple,
            max_pixels=tile * tile,
            dense_above=float("inf"),
        )

    def _lr_multiple(self) -> int:
        """LR sides are padded to multiples of this, so that HR sides fit the UNet."""
        multiple = self.model.required_multiple
        return multiple // math.gcd(multiple, self.scale)

    def _pad(self, lr: Tensor) -> tuple[Tensor, list[int]]:
        """Pad LR (right/bottom, replicate) so that HR sides are multiples of the UNet's."""
        lr_multiple = self._lr_multiple()
        h, w = lr.shape[-2:]
        pad = [0, (-w) % lr_multiple, 0, (-h) % lr_multiple]
        if any(pad):
            lr = F.pad(lr, pad, mode="replicate")
        return lr, pad
