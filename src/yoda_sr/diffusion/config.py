"""The diffusion settings of a config: noise schedule (``diffusion:``), YODA (``yoda:``) and
sampling defaults (``sampling:``). Plain dataclasses: importing them loads no torch."""

from __future__ import annotations

from dataclasses import dataclass

from yoda_sr.settings import check_int

SAMPLERS = ("ddpm", "ddim")
# The forward process: "gaussian" is DDPM's q(x_t | x_0) (SR3, SRDiff), "resshift" ResShift's
# residual shifting towards the upsampled LR (Yue et al. 2023; model.type resshift).
PROCESSES = ("gaussian", "resshift")
# The samplers each process has: ResShift samples with its own posterior (ancestral, "ddpm").
PROCESS_SAMPLERS = {"gaussian": SAMPLERS, "resshift": ("ddpm",)}
# "cosine" is Nichol & Dhariwal's schedule, as used by SRDiff; "linear" is SR3's.
BETA_SCHEDULES = ("linear", "cosine")
PREDICTION_TYPES = ("epsilon", "sample")
INPUT_MODES = ("anchored", "plain")
LOSSES = ("l1", "l2")
LOSS_NORMALIZATIONS = ("all", "active")
ANCHOR_NOISES = ("fixed", "fresh")
IMPORTANCE_INPUTS = ("lr", "estimate")
# Colour corrections after sampling (yoda_sr.pipeline.color_fix; plain data, no torch here).
COLOR_FIXES = ("none", "wavelet", "adain")


@dataclass
class NoiseScheduleConfig:
    """The forward process q(x_t | x_0) and what the network predicts.

    Defaults are SR3's: linear betas 1e-6..1e-2 over T = 2000 steps, epsilon prediction.
    SRDiff uses ``beta_schedule="cosine"`` with T = 100. ``clip_sample`` clips the predicted
    x_0 to [-1, 1] inside each sampler step (both spaces we diffuse in live in [-1, 1]).

    ``process: resshift`` is ResShift's chain instead (see :mod:`yoda_sr.diffusion.resshift`;
    the beta settings are then unused): its "exponential" eta schedule rises from
    sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level) to sqrt(eta_T) = ``etas_end``
    with power ``eta_power``, the noise is scaled by ``kappa``, and the network predicts x_0
    (``prediction_type: sample``). The paper's setting: T = 15, kappa = 2, p = 0.3.
    ``latent: true`` runs that chain in an autoencoder's latent space (``model.type:
    resshift_latent``, as the official ResShift): the network input is scaled by
    sqrt(kappa^2 eta_t + 1) instead of the pixel-space 3 kappa sqrt(eta_t) + 1, and x_0 is not
    clipped (``clip_sample: false``: latents are not bounded to [-1, 1]).
    """

    num_train_timesteps: int = 2000
    beta_schedule: str = "linear"
    beta_start: float = 1e-6
    beta_end: float = 1e-2
    prediction_type: str = "epsilon"
    clip_sample: bool = True
    process: str = "gaussian"
    kappa: float = 2.0
    eta_power: float = 0.3
    min_noise_level: float = 0.04
    etas_end: float = 0.99
    latent: bool = False

    def __post_init__(self) -> None:
        check_int(self, "diffusion", "num_train_timesteps", minimum=1)
        if self.process not in PROCESSES:
            raise ValueError(
                f"diffusion.process must be one of {', '.join(PROCESSES)}, got {self.process!r}"
            )
        if self.process == "resshift":
            self._check_resshift()
        if self.latent and (self.process != "resshift" or self.clip_sample):
            raise ValueError(
                "diffusion.latent needs process resshift and clip_sample false (latents are "
                f"not bounded), got process {self.process!r}, clip_sample {self.clip_sample}"
            )
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(
                f"beta_schedule must be one of {sorted(BETA_SCHEDULES)}, got {self.beta_schedule!r}"
            )
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(
                f"prediction_type must be 'epsilon' or 'sample', got {self.prediction_type!r}"
            )

    def _check_resshift(self) -> None:
        """ValueError naming the first ResShift setting out of range."""
        check_int(self, "diffusion", "num_train_timesteps", minimum=2)
        for key in ("kappa", "eta_power", "min_noise_level", "etas_end"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"diffusion.{key} must be a positive number, got {value!r}")
        if not self.etas_end <= 1.0:  # sqrt(eta_T): eta_T <= 1
            raise ValueError(f"diffusion.etas_end must be <= 1, got {self.etas_end!r}")
        if min(self.min_noise_level / self.kappa, self.min_noise_level) >= self.etas_end:
            raise ValueError(
                "diffusion.min_noise_level must give sqrt(eta_1) = min(min_noise_level / kappa, "
                f"min_noise_level) < etas_end ({self.etas_end}), got {self.min_noise_level}"
            )
        if self.prediction_type != "sample":
            raise ValueError(
                "diffusion.prediction_type must be 'sample' with process resshift (the network "
                f"predicts x_0), got {self.prediction_type!r}"
            )

    def check_sampler(self, sampler: str, key: str) -> None:
        """ValueError naming ``key`` unless this process samples with ``sampler``."""
        samplers = PROCESS_SAMPLERS[self.process]
        if sampler not in samplers:
            raise ValueError(
                f"{key} must be one of {', '.join(samplers)} with diffusion.process "
                f"{self.process}, got {sampler!r}"
            )


@dataclass
class YodaConfig:
    """YODA's settings (YAML section ``yoda:``), for training and for sampling.

    - ``enabled``: YODA masking on; off gives the plain backbone (M = 1 everywhere: the same
      code path, not a second one).
    - ``lower_bound``: ``l`` of the mask rule (see :mod:`yoda_sr.masks.yoda`); also the
      default of sampling.
    - ``input_mode`` (training): ``"anchored"`` (default): masked pixels hold q(x_t | x_0) and
      unmasked pixels q(x_t | anchor) with the same noise, so training sees what sampling
      sees. ``"plain"``: x_t = q(x_t | x_0) everywhere and only the loss is masked. The paper
      describes masking the diffusion of unimportant regions during training but gives no
      formula for their inputs; we choose "anchored" because it matches the sampler's blend.
    - ``loss`` (training): ``"l1"`` (SR3) or ``"l2"``, on masked pixels only.
    - ``loss_normalization`` (training): ``"all"`` (default): the paper's plain masked loss
      ``mean |M * (eps - eps_theta)|``, a sum over active elements divided by the number of
      *all* elements, so every active pixel-step weighs the same whatever else is active.
      ``"active"``: divided by the number of active elements in the batch (yoda-sr 0.1.0); at
      small batches this reweights pixels by how many others happen to be active (at batch 1
      an active pixel at t >= 0.9T weighs ~14-25x one at t < 0.2T).
    - ``importance_input``: what the importance source sees. ``"lr"`` (default): the LR
      image. ``"estimate"``: the image YODA's anchor holds, ``backbone.to_image(anchor)`` at
      output size (SRDiff with ``residual_base: encoder``: the encoder's estimate; otherwise
      bicubic(LR)), so that e.g. noise in a degraded input does not read as detail. In training
      the map is then computed per patch at every step (no cache). The source measures the
      image it is given per pixel: at scale > 1 it sees an upsampled image, whose detail per
      pixel is smaller than the LR's (an ``absolute`` normalisation gives lower maps).
    - ``grid_pooling``: how the map (output size) comes to a latent chain's coarser grid,
      ``"max"`` or ``"mean"`` over each cell's pixels (see
      :func:`yoda_sr.masks.importance_on_grid`); unused in pixel space.
    """

    enabled: bool = True
    lower_bound: float = 0.2
    input_mode: str = "anchored"
    loss: str = "l1"
    loss_normalization: str = "all"
    importance_input: str = "lr"
    grid_pooling: str = "max"

    def __post_init__(self) -> None:
        if self.input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be 'anchored' or 'plain', got {self.input_mode!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be 'l1' or 'l2', got {self.loss!r}")
        if self.loss_normalization not in LOSS_NORMALIZATIONS:
            raise ValueError(
                f"loss_normalization must be 'all' or 'active', got {self.loss_normalization!r}"
            )
        if not 0.0 <= self.lower_bound <= 1.0:
            raise ValueError(f"lower_bound must lie in [0, 1], got {self.lower_bound}")
        if self.importance_input not in IMPORTANCE_INPUTS:
            raise ValueError(
                f"importance_input must be 'lr' or 'estimate', got {self.importance_input!r}"
            )
        if self.grid_pooling not in ("max", "mean"):
            raise ValueError(f"grid_pooling must be 'max' or 'mean', got {self.grid_pooling!r}")


@dataclass
class SamplingConfig:
    """Defaults for upscaling with a trained model (overridable per call)."""

    sampler: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    anchor_noise: str = "fixed"
    # After sampling: "none", "wavelet" or "adain" colour correction towards the upsampled LR
    # (see yoda_sr.pipeline.color_fix). "wavelet" since 0.2.0: on the val and flat crops of
    # benchmarks/importance_colour.py it removes the colour offset (to <= 0.1/255) and raises
    # PSNR-RGB more than "adain"; configs saved before the setting keep "none".
    color_fix: str = "wavelet"

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(
                f"sampling.sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}"
            )
        check_int(self, "sampling", "steps", minimum=1)
        if not self.eta >= 0.0:
            raise ValueError(f"sampling.eta must be >= 0, got {self.eta!r}")
        if self.anchor_noise not in ANCHOR_NOISES:
            raise ValueError(
                f"sampling.anchor_noise must be 'fixed' or 'fresh', got {self.anchor_noise!r}"
            )
        if self.color_fix not in COLOR_FIXES:
            raise ValueError(
                f"sampling.color_fix must be one of {', '.join(COLOR_FIXES)}, "
                f"got {self.color_fix!r}"
            )
