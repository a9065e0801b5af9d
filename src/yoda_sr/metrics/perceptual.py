"""LPIPS (Zhang et al. 2018) via the ``lpips`` package, loaded strictly offline.

LPIPS needs two sets of weights: its linear calibration layers, which ship inside the ``lpips``
package, and the ImageNet backbone (torchvision AlexNet or VGG16), which torchvision would download
on first use. Letting ``lpips`` fetch the backbone could hang or crash without internet, and
torchvision unpickles it with ``weights_only=False``. So the model is built with a random
backbone and both weight files are loaded here from disk with ``weights_only=True``; when the
backbone file is not in the torch hub cache the metric reports itself unavailable instead.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from yoda_sr.metrics.image import prepare_pair
from yoda_sr.metrics.protocol import BACKBONE_FILES, LPIPS_NET


class LpipsMetric:
    """LPIPS distance between two RGB images (lower is more similar).

    Args:
        net: backbone, ``"alex"`` (default, the usual SR protocol) or ``"vgg"``.
        version: LPIPS linear-layer version, ``"0.1"`` (default) or ``"0.0"``.
        device: device the network runs on.
        hub_dir: torch hub directory holding ``checkpoints/<backbone file>``; defaults to
            ``torch.hub.get_dir()`` (usually ``~/.cache/torch/hub``).

    Attributes:
        available: whether the backbone weights were found and loaded.
        reason: why not, when ``available`` is False (empty otherwise).

    Calling the metric on an unavailable instance returns None (so evaluation tables record a
    missing value rather than failing); check ``available`` / ``reason`` to report it.
    """

    def __init__(
        self,
        net: str = LPIPS_NET,
        version: str = "0.1",
        device: str | torch.device = "cpu",
        hub_dir: str | Path | None = None,
    ) -> None:
        if net not in BACKBONE_FILES:
            raise ValueError(
                f"LpipsMetric: net must be one of {sorted(BACKBONE_FILES)}, got {net!r}"
            )
        if version not in ("0.0", "0.1"):
            raise ValueError(f"LpipsMetric: version must be '0.0' or '0.1', got {version!r}")
        self.net = net
        self.version = version
        self.device = torch.device(device)
        hub = Path(hub_dir) if hub_dir is not None else Path(torch.hub.get_dir())
        self.backbone_path = hub / "checkpoints" / BACKBONE_FILES[net]
        self.model: torch.nn.Module | None = None
        self.available = False
        self.reason = ""
        if not self.backbone_path.is_file():
            self.reason = (
                f"torchvision {net} weights not found in the torch hub cache "
                f"({self.backbone_path}); download them once on a machine with internet, e.g. "
                f"torchvision.models.{'alexnet' if net == 'alex' else 'vgg16'}(weights='DEFAULT')"
            )
            return
        try:
            self.model = self._build().to(self.device)
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            self.reason = f"could not load LPIPS weights from {self.backbone_path}: {exc}"
            return
        self.available = True

    def _build(self) -> torch.nn.Module:
        """LPIPS with the packaged linear layers and the backbone from ``backbone_path``."""
        # Imported here: it pulls in torchvision (~2 s), which PSNR/SSIM-only users do not need.
        import lpips

        with warnings.catch_warnings():
            # lpips passes torchvision's deprecated ``pretrained=`` argument.
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(
                pretrained=False, net=self.net, version=self.version, pnet_rand=True, verbose=False
            )
        linear_path = (
            Path(lpips.__file__).parent / "weights" / f"v{self.version}" / f"{self.net}.pth"
        )
        linear = torch.load(linear_path, map_location="cpu", weights_only=True)
        # The linear layers appear twice in the state dict (``lin0`` and the alias ``lins.0``);
        # the file holds the ``lin<k>`` names only.
        linear_keys = {key for key in model.state_dict() if re.fullmatch(r"lin\d+\..+", key)}
        if set(linear) != linear_keys:
            raise KeyError(f"{linear_path} does not match LPIPS-{self.net} linear layers")
        model.load_state_dict(linear, strict=False)
        backbone = torch.load(self.backbone_path, map_location="cpu", weights_only=True)
        with torch.no_grad():
            # lpips splits torchvision's ``features`` into slices keeping the layer indices:
            # ``slice2.3.weight`` is ``features.3.weight``.
            for name, param in model.net.named_parameters():
                param.copy_(backbone["features." + name.split(".", 1)[1]])
        return model.eval()

    @torch.no_grad()
    def __call__(
        self, img: np.ndarray | Tensor, ref: np.ndarray | Tensor, crop_border: int = 0
    ) -> float | None:
        """LPIPS between ``img`` and ``ref``, or None when the metric is unavailable.

        Inputs are uint8 (H, W, 3) arrays or float (3, H, W) tensors in [0, 1]; both are
        quantised to uint8 (as saved images are), cropped by ``crop_border`` per side, and
        scaled to [-1, 1] as LPIPS expects.
        """
        if self.model is None:
            return None
        img_u8, ref_u8 = prepare_pair(img, ref, crop_border)
        if img_u8.shape[2] != 3:
            raise ValueError(f"LPIPS needs RGB images, got {img_u8.shape[2]} channel(s)")
        a, b = (self._to_input(x) for x in (img_u8, ref_u8))
        return float(self.model(a, b).item())

    def _to_input(self, image: np.ndarray) -> Tensor:
        """uint8 (H, W, 3) -> float (1, 3, H, W) in [-1, 1] on the metric's device."""
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        return (tensor.float() / 127.5 - 1.0).to(self.device)
