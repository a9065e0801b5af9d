"""ResShift's Markov chain (Yue et al., "ResShift: Efficient Diffusion Model for Image
Super-resolution by Residual Shifting", NeurIPS 2023) as a diffusers-style scheduler.

The chain shifts the residual between the HR image x_0 and the upsampled LR y_0 (both in
[-1, 1]) instead of destroying x_0, so it starts from y_0 plus noise and needs few steps
(T = 15, or 4 in the TPAMI extension). With eta_1 < ... < eta_T the shifting schedule:

- marginal: q(x_t | x_0, y_0) = N(x_0 + eta_t (y_0 - x_0), kappa^2 eta_t I);
- posterior: q(x_{t-1} | x_t, x_0) = N((eta_{t-1}/eta_t) x_t + (alpha_t/eta_t) x_0,
  kappa^2 (eta_{t-1}/eta_t) alpha_t I), alpha_t = eta_t - eta_{t-1}, eta_0 = 0;
- prior: x_T = y_0 + kappa sqrt(eta_T) eps (q(x_T | x_0, y_0) with eta_T ~ 1);
- the network predicts x_0 from its input x_t / (3 kappa sqrt(eta_t) + 1) (the official
  code's pixel-space input normalisation) and y_0; loss: MSE on x_0.

Deviation: the official models run in the latent space of a VQGAN autoencoder whose weights
are not available here; this chain runs in pixel space (what a user without that
autoencoder trains), with the official code's pixel-space input scaling.

YODA needs nothing ResShift-specific: its anchor is y_0 itself, and an undiffused pixel
follows q(x_t | x_0 = y_0, y_0) = y_0 + kappa sqrt(eta_t) eps, which is what :meth:`add_noise`
gives for ``original_samples = y0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from torch import Tensor


def resshift_sqrt_etas(
    num_train_timesteps: int, kappa: float, power: float, min_noise_level: float, etas_end: float
) -> Tensor:
    """sqrt(eta_t) for t = 1..T, float64 (T,): the official code's "exponential" schedule.

    The paper's schedule: sqrt(eta_t) = sqrt(eta_1) b_0^{beta_t} with
    beta_t = ((t - 1)/(T - 1))^p (T - 1) and b_0 = exp(log(sqrt(eta_T) / sqrt(eta_1)) / (T - 1)),
    so sqrt(eta) rises from
    sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level) to sqrt(eta_T) = ``etas_end``.
    The paper writes eta_T = 0.99; the official code sets sqrt(eta_T) = 0.99 (eta_T = 0.9801):
    we follow the code.
    """
    steps = num_train_timesteps - 1
    sqrt_eta_1 = min(min_noise_level / kappa, min_noise_level)
    log_b0 = math.log(etas_end / sqrt_eta_1) / steps
    exponents = torch.linspace(0.0, 1.0, num_train_timesteps, dtype=torch.float64) ** power
    return sqrt_eta_1 * torch.exp(exponents * steps * log_b0)


def next_visited(timesteps: Tensor, timestep: int) -> int:
    """The entry of ``timesteps`` (visited, descending) after ``timestep``; -1 (the clean
    state) after the last one."""
    visited = [int(k) for k in timesteps]
    index = visited.index(int(timestep))
    return visited[index + 1] if index + 1 < len(visited) else -1


@dataclass
class ResShiftSchedulerOutput(BaseOutput):
    """``prev_sample``: x at the next visited timestep; ``pred_original_sample``: the (clipped)
    x_0 prediction; both (B, C, H, W)."""

    prev_sample: Tensor
    pred_original_sample: Tensor


class ResShiftScheduler(SchedulerMixin, ConfigMixin):
    """ResShift's chain (module docstring) with diffusers' scheduler interface.

    Index ``k`` = 0..T-1 is the paper's t = k + 1 (as for our DDPM/DDIM). ``set_timesteps(n)``
    visits n of the T timesteps with "trailing" spacing (from T - 1, as the YODA masks
    assume); :meth:`step` samples the posterior from the visited ``k`` to the next visited
    ``s`` (the same formula with eta_{t-1} replaced by eta_s, exact for any spacing because the
    chain is Markov with q(x_k | x_s) = N(x_s + (eta_k - eta_s)(y_0 - x_0), kappa^2 (eta_k -
    eta_s))), and to x_0 itself after the last (eta = 0: no noise). Saved by
    ``save_pretrained`` as ``scheduler_config.json`` with this class name.
    """

    config_name = "scheduler_config.json"
    order = 1

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 15,
        kappa: float = 2.0,
        eta_power: float = 0.3,
        min_noise_level: float = 0.04,
        etas_end: float = 0.99,
        prediction_type: str = "sample",
        clip_sample: bool = True,
        clip_sample_range: float = 1.0,
        timestep_spacing: str = "trailing",
        latent: bool = False,
    ) -> None:
        if prediction_type != "sample" or timestep_spacing != "trailing":
            raise ValueError(
                "ResShiftScheduler predicts x_0 (prediction_type 'sample') with 'trailing' "
                f"spacing, got {prediction_type!r}, {timestep_spacing!r}"
            )
        self.sqrt_etas = resshift_sqrt_etas(
            num_train_timesteps, kappa, eta_power, min_noise_level, etas_end
        )
        self.etas = self.sqrt_etas**2
        self.num_inference_steps = num_train_timesteps
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None):
        """Visit ``num_inference_steps`` of the T timesteps, from T - 1 down (diffusers'
        "trailing" spacing)."""
        num_t = self.config.num_train_timesteps
        if not 1 <= num_inference_steps <= num_t:
            raise ValueError(f"num_inference_steps must lie in 1..{num_t}")
        ratio = num_t / num_inference_steps
        visited = np.round(np.arange(num_t, 0, -ratio)).astype(np.int64) - 1
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.from_numpy(visited).to(device)

    def _at(self, table: Tensor, timesteps: Tensor | int, like: Tensor) -> Tensor:
        """``table[timesteps]`` shaped to broadcast over ``like`` (B, C, H, W), in its dtype."""
        index = torch.as_tensor(timesteps, dtype=torch.long).cpu()
        values = table[index].to(like.device, like.dtype)
        return values.view(-1, *([1] * (like.ndim - 1))) if values.ndim else values

    def scale_model_input(self, sample: Tensor, timestep: Tensor | int | None = None) -> Tensor:
        """The official input normalisation, ``timestep`` an int or (B,): in pixel space
        x_t / (3 kappa sqrt(eta_t) + 1) (keeps the input within about [-1, 1]); with
        ``latent`` x_t / sqrt(kappa^2 eta_t + 1) (x_t's standard deviation, for latents of
        variance about 1)."""
        if timestep is None:
            raise ValueError("ResShiftScheduler.scale_model_input needs the timestep")
        if self.config.latent:
            scale = self._at((self.etas * self.config.kappa**2 + 1.0).sqrt(), timestep, sample)
        else:
            scale = self._at(self.sqrt_etas * (3.0 * self.config.kappa) + 1.0, timestep, sample)
        return sample / scale

    def add_noise(
        self, original_samples: Tensor, noise: Tensor, timesteps: Tensor, y0: Tensor
    ) -> Tensor:
        """q(x_t | x_0, y_0): x_0 + eta_t (y_0 - x_0) + kappa sqrt(eta_t) noise;
        tensors (B, C, H, W), ``timesteps`` (B,)."""
        eta = self._at(self.etas, timesteps, original_samples)
        sigma = self._at(self.sqrt_etas * self.config.kappa, timesteps, original_samples)
        return original_samples + eta * (y0 - original_samples) + sigma * noise

    def prior_sample(self, y0: Tensor, noise: Tensor) -> Tensor:
        """x_T = y_0 + kappa sqrt(eta_T) noise, (B, C, H, W)."""
        last = self.config.num_train_timesteps - 1
        return y0 + self._at(self.sqrt_etas * self.config.kappa, last, y0) * noise

    def previous_timestep(self, timestep: int) -> int:
        """The visited timestep after ``timestep``; -1 (the clean state) after the last one."""
        return next_visited(self.timesteps, timestep)

    def step(
        self,
        model_output: Tensor,
        timestep: int,
        sample: Tensor,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
    ) -> ResShiftSchedulerOutput | tuple[Tensor, Tensor]:
        """x_k -> x_s, s the next visited timestep, by the posterior q(x_s | x_k, x_0) with the
        predicted x_0 (``model_output``, clipped to the sample range if ``clip_sample``)."""
        x0 = model_output
        if self.config.clip_sample:
            x0 = x0.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)
        prev = self.previous_timestep(timestep)
        eta_t = float(self.etas[int(timestep)])
        eta_s = float(self.etas[prev]) if prev >= 0 else 0.0
        alpha = eta_t - eta_s
        prev_sample = (eta_s / eta_t) * sample + (alpha / eta_t) * x0
        if prev >= 0:
            std = self.config.kappa * math.sqrt(eta_s * alpha / eta_t)
            noise = randn_tensor(
                model_output.shape,
                generator=generator,
                device=model_output.device,
                dtype=model_output.dtype,
            )
            prev_sample = prev_sample + std * noise
        if not return_dict:
            return prev_sample, x0
        return ResShiftSchedulerOutput(prev_sample=prev_sample, pred_original_sample=x0)

    def __len__(self) -> int:
        return self.config.num_train_timesteps
