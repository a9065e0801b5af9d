"""Model cards: the Markdown that describes a saved pipeline. Its parts are shared by the
bundled models' ``MODEL_CARD.md`` (``benchmarks/train_default_models.py`` adds their numbers
and training records) and the ``README.md`` that ``YodaPipeline.push_to_hub`` uploads."""

from __future__ import annotations

import yaml
from torch import nn

import yoda_sr
from yoda_sr.config import ExperimentConfig
from yoda_sr.pipeline.components import portable_config

# The file the Hugging Face Hub shows as a repo's model card.
HUB_CARD = "README.md"

_BACKBONES = {
    "sr3": (
        "SR3 (Saharia et al., 2021): image-space diffusion conditioned on the bicubic-upsampled LR"
    ),
    "srdiff": (
        "SRDiff (Li et al., 2022): diffusion of the residual over bicubic, conditioned on the "
        "features of a stage-1 RRDB encoder (frozen; its weights are part of this model)"
    ),
    "rrdb": "RRDBNet (ESRGAN's generator, SRDiff's stage 1): one regression pass, no diffusion",
    "resshift": (
        "ResShift (Yue et al., 2023): a Markov chain shifting the residual between the "
        "bicubic-upsampled LR and the HR image, sampled from the LR plus noise in a few steps "
        "(pixel space)"
    ),
}


def describe(config: ExperimentConfig) -> str:
    """What the model is, in one sentence without its final full stop."""
    backbone = _BACKBONES[config.model_type]
    if config.model_type == "rrdb":
        return backbone
    if not config.yoda.enabled:
        return f"{backbone}, without YODA's masks (every pixel diffused at every step)"
    return (
        f"{backbone}, with YODA's attention-guided masks (each pixel is diffused for "
        f"`T * (A + l)` of the T = {config.diffusion.num_train_timesteps} steps) in training "
        "and sampling"
    )


def sampling_defaults(config: ExperimentConfig) -> str:
    """The sampling settings a call uses unless told otherwise, as a sentence."""
    if config.model_type == "rrdb":
        return "One forward pass per image; no sampling settings."
    source = config.attention.source
    weights = " (no ViT weights needed)" if source != "dino" else f" (`{config.attention.model}`)"
    yoda = (
        f"YODA lower bound {config.yoda.lower_bound}, importance source `{source}`{weights} "
        f"with {config.attention.normalization.replace('_', '-')} normalisation"
        if config.yoda.enabled
        else "YODA off"
    )
    return (
        f"Sampling defaults: {config.sampling.sampler.upper()}-{config.sampling.steps}, {yoda}, "
        f"colour fix `{config.sampling.color_fix}`."
    )


def config_section(config: ExperimentConfig) -> list[str]:
    """The card's ``## Config`` section: the experiment config as YAML, with its paths made
    portable (see :func:`~yoda_sr.pipeline.components.portable_path`)."""
    text = yaml.safe_dump(portable_config(config).to_dict(), sort_keys=False).rstrip()
    return ["## Config", "", "```yaml", text, "```"]


def hub_card(repo_id: str, model: nn.Module, config: ExperimentConfig) -> str:
    """The ``README.md`` of Hub repo ``repo_id``: Hub metadata, what the model is, how to use
    it, and its config."""
    params = sum(p.numel() for p in model.parameters())
    tags = ["super-resolution", "diffusion", "yoda", config.model_type]
    lines = [
        "---",
        "library_name: yoda-sr",
        "pipeline_tag: image-to-image",
        "tags:",
        *(f"- {tag}" for tag in tags),
        "---",
        "",
        f"# {repo_id.rpartition('/')[2]}",
        "",
        f"x{config.model.scale} super-resolution, {params / 1e6:.2f} M parameters: "
        f"{describe(config)}. Saved by yoda-sr {yoda_sr.__version__}.",
        "",
        "## Use",
        "",
        "With yoda-sr installed:",
        "",
        "```bash",
        f"yoda-sr upscale photo.jpg --model {repo_id} --out sr/",
        "```",
        "",
        f'`YodaPipeline.from_pretrained("{repo_id}")` in Python. {sampling_defaults(config)}',
        "",
        *config_section(config),
        "",
    ]
    return "\n".join(lines)
