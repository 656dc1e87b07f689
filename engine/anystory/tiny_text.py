"""Tiny random text encoders and byte-level tokenizers for the "anystory-tiny" configuration.

The golden components carry no text encoders (the golden cases give prompt embeddings), but
the app renders from prompts, so tests and benchmarks need a CLIP and a T5 of the right
output sizes. They are built here, deterministically (fixed seed), with tokenizers made with
the `tokenizers` library: one token per byte, so every prompt encodes differently.
"""
from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast, T5Config, T5EncoderModel

CLIP_LENGTH = 77
_SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")


def _byte_tokenizer(template: str, max_length: int) -> PreTrainedTokenizerFast:
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    vocab.update({tok: len(alphabet) + i for i, tok in enumerate(_SPECIALS)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, vocab[t]) for t in ("<s>", "</s>") if t in template])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", model_max_length=max_length)


def tiny_text_components(joint_dim: int, pooled_dim: int, seed: int = 0) -> dict:
    """FluxPipeline keyword arguments: text_encoder/tokenizer (CLIP side, pooled output of
    `pooled_dim`) and text_encoder_2/tokenizer_2 (T5 side, `joint_dim` features)."""
    clip_tok = _byte_tokenizer("<s> $A </s>", CLIP_LENGTH)
    t5_tok = _byte_tokenizer("$A </s>", 512)
    vocab = len(clip_tok)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clip = CLIPTextModel(CLIPTextConfig(
            vocab_size=vocab, hidden_size=pooled_dim, intermediate_size=2 * pooled_dim, num_hidden_layers=1,
            num_attention_heads=2, max_position_embeddings=CLIP_LENGTH, projection_dim=pooled_dim,
            pad_token_id=clip_tok.pad_token_id, bos_token_id=clip_tok.bos_token_id,
            eos_token_id=clip_tok.eos_token_id))
        t5 = T5EncoderModel(T5Config(
            vocab_size=vocab, d_model=joint_dim, d_kv=joint_dim // 2, d_ff=2 * joint_dim, num_layers=1,
            num_heads=2, pad_token_id=t5_tok.pad_token_id, eos_token_id=t5_tok.eos_token_id))
    return {"text_encoder": clip.eval(), "tokenizer": clip_tok, "text_encoder_2": t5.eval(), "tokenizer_2": t5_tok}
