"""Offline tokenizers and tiny text encoders for demo pipelines (no downloads).

CLIP gets a byte-level BPE vocabulary without merges (every byte is a token), T5 a
character-level unigram vocabulary, and the demo LLM a character-level BPE over printable
ASCII with a chat template. All are written as ordinary tokenizer folders, so demo
pipelines load exactly like real ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "CLIP_VOCAB",
    "T5_VOCAB",
    "clip_text_config",
    "t5_config",
    "write_clip_tokenizer",
    "write_llm_tokenizer",
    "write_t5_tokenizer",
]

CLIP_VOCAB = 514  # 256 bytes, 256 end-of-word bytes, start and end of text
T5_VOCAB = 99  # pad, eos, unk, 95 printable characters, the word boundary "▁"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _byte_chars() -> list[str]:
    """GPT-2's reversible byte → printable character table, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def write_clip_tokenizer(folder: Path) -> None:
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)
    tokenizer.save_pretrained(str(folder))


def write_t5_tokenizer(folder: Path) -> None:
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(chr(c), -1.0) for c in range(32, 127)] + [("▁", -1.0)]
    T5Tokenizer(vocab=pieces, extra_ids=0).save_pretrained(str(folder))


def write_llm_tokenizer(folder: Path) -> int:
    """A character-level tokenizer with a chat template; returns its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    vocab = {token: i for i, token in enumerate(specials)}
    for code in range(32, 127):
        vocab[chr(code)] = len(vocab)
    vocab["\n"] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="</s>",
        additional_special_tokens=specials[3:6],
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.save_pretrained(str(folder))
    return len(vocab)


def clip_text_config(**overrides: Any) -> Any:
    from transformers import CLIPTextConfig

    base: dict[str, Any] = dict(
        vocab_size=CLIP_VOCAB,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=512,
        eos_token_id=513,
        pad_token_id=513,
        projection_dim=32,
        hidden_act="gelu",
    )
    return CLIPTextConfig(**{**base, **overrides})


def t5_config() -> Any:
    from transformers import T5Config

    return T5Config(
        vocab_size=T5_VOCAB,
        d_model=32,
        d_ff=37,
        d_kv=8,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
