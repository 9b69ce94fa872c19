"""Hugging Face transformers architectures as tiny random-init models (hidden 32, 2 layers,
sequence 8, 32x32 images): built in code, nothing downloaded.

``build(name)`` returns ``(model, example_inputs)``: the model in eval mode and the
positional arguments its forward() is called with, as people pass them (``None`` for an
optional argument before one that is given, as Whisper's and T5's decoder inputs need).
``NAMES`` lists the architectures the installed transformers provides.
"""
from __future__ import annotations

import torch

SEQ, HIDDEN, IMAGE = 8, 32, 32
# use_cache=False: a decoder's KV cache output (DynamicCache) is what people turn off to export
_TOKENS = dict(bos_token_id=0, eos_token_id=2, pad_token_id=1, use_cache=False)
_TEXT = dict(_TOKENS, vocab_size=64, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=64)
_DECODER = dict(_TEXT, num_key_value_heads=2, max_position_embeddings=64)
_MOE = dict(_DECODER, num_local_experts=4, num_experts_per_tok=2)


def _ids(n=SEQ, vocab=64):
    return torch.randint(0, vocab, (1, n), generator=torch.Generator().manual_seed(0))


def _pixels(channels=3, size=IMAGE):
    return torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(0))


def _config(cls_name, **kw):
    import transformers
    return getattr(transformers, cls_name)(**kw)


# name -> (config class, model class, config kwargs, inputs)
SPECS = {
    "bert": ("BertConfig", "BertModel", _TEXT, "ids"),
    "roberta": ("RobertaConfig", "RobertaModel", dict(_TEXT, pad_token_id=1), "ids"),
    "distilbert": ("DistilBertConfig", "DistilBertModel",
                   dict(_TOKENS, vocab_size=64, dim=HIDDEN, n_layers=2, n_heads=4, hidden_dim=64), "ids"),
    "gpt2": ("GPT2Config", "GPT2Model", dict(_TOKENS, vocab_size=64, n_embd=HIDDEN, n_layer=2, n_head=4,
                                            n_positions=64), "ids"),
    "llama": ("LlamaConfig", "LlamaModel", _DECODER, "ids"),
    "mistral": ("MistralConfig", "MistralModel", _DECODER, "ids"),
    "qwen2": ("Qwen2Config", "Qwen2Model", _DECODER, "ids"),
    "t5": ("T5Config", "T5Model", dict(_TOKENS, vocab_size=64, d_model=HIDDEN, d_kv=8, d_ff=64,
                                      num_layers=2, num_heads=4, decoder_start_token_id=0),
           "ids_none_ids"),
    "bart": ("BartConfig", "BartModel", dict(_TOKENS, vocab_size=64, d_model=HIDDEN, encoder_layers=2,
                                            decoder_layers=2, encoder_attention_heads=4,
                                            decoder_attention_heads=4, encoder_ffn_dim=64,
                                            decoder_ffn_dim=64, max_position_embeddings=64),
             "ids_none_ids"),
    "vit": ("ViTConfig", "ViTModel", dict(_TEXT, image_size=IMAGE, patch_size=8), "pixels"),
    "swin": ("SwinConfig", "SwinModel", dict(image_size=IMAGE, patch_size=4, embed_dim=16,
                                            depths=[1, 1], num_heads=[2, 4], window_size=4),
             "pixels"),
    "convnext": ("ConvNextConfig", "ConvNextModel", dict(hidden_sizes=[8, 16], depths=[1, 1],
                                                        num_stages=2), "pixels"),
    "resnet": ("ResNetConfig", "ResNetModel", dict(embedding_size=8, hidden_sizes=[8, 16],
                                                  depths=[1, 1], layer_type="bottleneck"),
               "pixels"),
    "clip": ("CLIPConfig", "CLIPModel", None, "ids_pixels"),
    "whisper": ("WhisperConfig", "WhisperModel", dict(_TOKENS, vocab_size=64, d_model=HIDDEN,
                                                     decoder_start_token_id=3, encoder_layers=2, decoder_layers=2,
                                                     encoder_attention_heads=4,
                                                     decoder_attention_heads=4,
                                                     encoder_ffn_dim=64, decoder_ffn_dim=64,
                                                     num_mel_bins=8, max_source_positions=8,
                                                     max_target_positions=16),
                "features_none_ids"),
    "mamba": ("MambaConfig", "MambaModel", dict(_TOKENS, vocab_size=64, hidden_size=HIDDEN,
                                               num_hidden_layers=2, state_size=4, expand=2,
                                               conv_kernel=4, use_mambapy=False), "ids"),
    "mixtral": ("MixtralConfig", "MixtralModel", _MOE, "ids"),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeModel",
                  dict(_MOE, num_experts=4, moe_intermediate_size=16,
                       shared_expert_intermediate_size=32), "ids"),
}


def _clip_config():
    import transformers
    text = dict(_TOKENS, vocab_size=64, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=64, max_position_embeddings=16)
    vision = dict(hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=64, image_size=IMAGE, patch_size=8)
    return transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)


def _available() -> list[str]:
    try:
        import transformers
    except ImportError:
        return []
    return [n for n, (c, m, _, _) in SPECS.items()
            if hasattr(transformers, c) and hasattr(transformers, m)]


NAMES = _available()


def inputs_for(kind: str) -> tuple:
    if kind == "ids":
        return (_ids(),)
    if kind == "pixels":
        return (_pixels(),)
    if kind == "ids_none_ids":  # (input_ids, attention_mask=None, decoder_input_ids)
        return (_ids(), None, _ids())
    if kind == "ids_pixels":
        return (_ids(), _pixels())
    if kind == "features_none_ids":  # Whisper: 2 * max_source_positions frames of mel bins
        feats = torch.randn(1, 8, 16, generator=torch.Generator().manual_seed(0))
        return (feats, None, _ids(4))
    raise KeyError(kind)


def trace(model, inputs):
    """torch.jit.trace as people call it on a transformers model: torchscript=True in the
    config (tuple outputs), keyword inputs when an optional one before them is None. Raises
    what torch raises where it cannot trace (CLIP's output)."""
    import inspect
    model.config.torchscript = True
    with torch.no_grad():
        if any(x is None for x in inputs):
            names = list(inspect.signature(model.forward).parameters)
            kw = {k: x for k, x in zip(names, inputs) if x is not None}
            return torch.jit.trace(model, example_kwarg_inputs=kw, strict=False,
                                   check_trace=False)
        return torch.jit.trace(model, inputs, strict=False, check_trace=False)


def build(name: str):
    import transformers
    torch.manual_seed(0)
    cfg_cls, model_cls, kw, kind = SPECS[name]
    cfg = _clip_config() if name == "clip" else _config(cfg_cls, **kw)
    model = getattr(transformers, model_cls)(cfg).eval()
    return model, inputs_for(kind)


def expected_params(model) -> int:
    """What the IR should count: the parameters (shared ones once). Buffers are not learned
    (BatchNorm statistics are settings of the op; rotary inv_freq is not even saved)."""
    return sum(p.numel() for p in model.parameters())


def reference_macs(model, inputs) -> float:
    """FlopCounterMode's count / 2 (one multiply-add is 2 FLOPs), attention through the math
    SDPA backend (which FlopCounterMode counts as its two matmuls), MoE experts run eagerly
    (one linear per expert on its tokens: the counter cannot see inside a grouped_mm
    fallback). Grad mode on, as fused inference paths hide work from the counter."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    before = getattr(model.config, "_experts_implementation", None)
    if before not in (None, "eager"):
        model.set_experts_implementation("eager")
    counter = FlopCounterMode(display=False)
    try:
        with sdpa_kernel(SDPBackend.MATH), counter:
            model(*inputs)
    finally:
        if before not in (None, "eager"):
            model.set_experts_implementation(before)
    return counter.get_total_flops() / 2
