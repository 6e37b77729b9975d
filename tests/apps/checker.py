"""A tiny real safety checker for tests, with thresholds that flag every image."""

from __future__ import annotations

from pathlib import Path


def flag_everything_checker(folder: Path) -> None:
    """A tiny real StableDiffusionSafetyChecker whose thresholds flag every image."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(-10.0)  # cosine - threshold > 0 always
    checker.save_pretrained(str(folder))
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32).save_pretrained(str(folder))
