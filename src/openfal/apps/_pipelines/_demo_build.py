"""Small random-weight pipelines, built from configs in code and saved as ordinary folders.

Shapes follow the real models (Flux's packed 16-channel latents and 2-D rotary axes, SDXL's
two text encoders and size conditioning, LCM's guidance embedding, LTX-Video's 32x8
compression), only narrower, so every code path of an app runs; the outputs are noise.
Each builder seeds torch first: the same torch version builds the same weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from openfal.apps._pipelines._demo_text import (
    clip_text_config,
    t5_config,
    write_clip_tokenizer,
    write_llm_tokenizer,
    write_t5_tokenizer,
)

__all__ = ["DEMO_BUILDERS"]


def _seed(value: int) -> None:
    import torch

    torch.manual_seed(value)


def _vae(latent_channels: int, **extra: Any) -> Any:
    """An f8 VAE (four blocks) that decodes 1024 px in well under a second on a CPU."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=(8, 16, 32, 32),
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=8,
        sample_size=32,
        **extra,
    )


def _clip_tokenizer(tmp: Path) -> Any:
    from transformers import CLIPTokenizer

    write_clip_tokenizer(tmp / "clip-tokenizer")
    return CLIPTokenizer.from_pretrained(str(tmp / "clip-tokenizer"), model_max_length=77)


def _t5_tokenizer(tmp: Path) -> Any:
    from transformers import T5Tokenizer

    write_t5_tokenizer(tmp / "t5-tokenizer")
    return T5Tokenizer.from_pretrained(str(tmp / "t5-tokenizer"))


def _flux(folder: Path, tmp: Path, *, guidance: bool) -> None:
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel, T5EncoderModel

    _seed(0)  # shared parts first, identical for dev and schnell (as in FLUX.1)
    vae = _vae(16, use_quant_conv=False, use_post_quant_conv=False)
    vae.register_to_config(scaling_factor=0.3611, shift_factor=0.1159)
    clip = CLIPTextModel(clip_text_config())
    t5 = T5EncoderModel(t5_config())
    _seed(1 if guidance else 2)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=64,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=guidance,
        axes_dims_rope=[4, 4, 8],
    )
    if guidance:  # FLUX.1-dev's schedule: resolution-dependent shift
        scheduler = FlowMatchEulerDiscreteScheduler(
            shift=3.0,
            use_dynamic_shifting=True,
            base_shift=0.5,
            max_shift=1.15,
            base_image_seq_len=256,
            max_image_seq_len=4096,
        )
    else:
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=clip,
        tokenizer=_clip_tokenizer(tmp),
        text_encoder_2=t5,
        tokenizer_2=_t5_tokenizer(tmp),
        transformer=transformer,
    ).save_pretrained(str(folder))


def _sdxl(folder: Path, tmp: Path) -> None:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    _seed(3)
    tokenizer = _clip_tokenizer(tmp)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,  # 6 size ids * 8 + the pooled 32
        cross_attention_dim=64,  # both encoders' hidden states side by side
        norm_num_groups=8,
    )
    StableDiffusionXLPipeline(
        vae=_vae(4),
        text_encoder=CLIPTextModel(clip_text_config()),
        text_encoder_2=CLIPTextModelWithProjection(clip_text_config()),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            timestep_spacing="leading",
            steps_offset=1,
        ),
    ).save_pretrained(str(folder))


def _lcm_sd15(folder: Path, tmp: Path) -> None:
    from diffusers import LCMScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    _seed(4)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=8,
        time_cond_proj_dim=32,  # an LCM-distilled UNet's guidance-scale embedding
    )
    StableDiffusionImg2ImgPipeline(
        vae=_vae(4),
        text_encoder=CLIPTextModel(clip_text_config()),
        tokenizer=_clip_tokenizer(tmp),
        unet=unet,
        scheduler=LCMScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).save_pretrained(str(folder))


def _ltx_video(folder: Path, tmp: Path) -> None:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5EncoderModel

    _seed(5)
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        patch_size=4,  # three 2x stages: 32x in space, 8x in time, like LTX-Video
        patch_size_t=1,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=1,
        caption_channels=32,
    )
    LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(
            shift=1.0,
            use_dynamic_shifting=True,
            base_shift=0.95,
            max_shift=2.05,
            base_image_seq_len=1024,
            max_image_seq_len=4096,
            shift_terminal=0.1,
        ),
        vae=vae,
        text_encoder=T5EncoderModel(t5_config()),
        tokenizer=_t5_tokenizer(tmp),
        transformer=transformer,
    ).save_pretrained(str(folder))


def _llm(folder: Path, tmp: Path) -> None:
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    vocab = write_llm_tokenizer(folder)
    _seed(6)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=6,
        pad_token_id=2,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=1, eos_token_id=6, pad_token_id=2, do_sample=True, max_new_tokens=64
    )
    model.save_pretrained(str(folder))


DEMO_BUILDERS: dict[str, Callable[[Path, Path], None]] = {
    "flux-dev": lambda folder, tmp: _flux(folder, tmp, guidance=True),
    "flux-schnell": lambda folder, tmp: _flux(folder, tmp, guidance=False),
    "sdxl": _sdxl,
    "lcm-sd15": _lcm_sd15,
    "ltx-video": _ltx_video,
    "llm": _llm,
}
