"""The explanation methods, each a function of the Explainer, the input and the target."""
from __future__ import annotations

import numpy as np

from ..errors import UsageError
from .api import ExplainResult


def _relu_override(torch, mode: str):
    """ReLU whose backward pass is changed: 'guided' (Springenberg et al.: keep positive
    gradients where the input was positive) or 'deconv' (Zeiler & Fergus: positive gradients)."""

    class ModifiedRelu(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            g = grad.clamp(min=0)
            return g * (x > 0) if mode == "guided" else g

    return lambda torch_, node, ins: ModifiedRelu.apply(ins[0])


def _channel_map(a: np.ndarray) -> np.ndarray:
    """[1, C, H, W] attributions -> H x W map: max of |a| over channels."""
    return np.abs(a[0]).max(axis=0)


def gradient(ex, x, target, **_):
    g = ex.input_grad(x, target).numpy()
    return _channel_map(g), g, None


def modified_backprop(mode):
    def run(ex, x, target, **_):
        ex.module.overrides["Relu"] = _relu_override(ex.torch, mode)
        try:
            g = ex.input_grad(x, target).numpy()
        finally:
            ex.module.overrides.pop("Relu", None)
        return _channel_map(g), g, None
    return run


def integrated_gradients(ex, x, target, steps: int = 64, baseline=None, **_):
    """Attributions (x - b) * mean of gradients along the straight path b -> x, by the
    trapezoidal rule; they sum to f(x) - f(b) up to the discretisation error."""
    torch = ex.torch
    b = torch.zeros_like(x) if baseline is None else torch.as_tensor(baseline, dtype=x.dtype)
    alphas = torch.linspace(0, 1, steps + 1).reshape(-1, 1, 1, 1)
    weights = torch.ones(steps + 1, 1, 1, 1)
    weights[0] = weights[-1] = 0.5
    grads = batched_grads(ex, b + alphas * (x - b), target)
    total = (weights * grads).sum(dim=0, keepdim=True)
    attr = ((x - b) * total / steps).numpy()
    with torch.no_grad():
        delta = float(ex.scores(x)[0, target] - ex.scores(b)[0, target])
    return np.abs(attr[0]).sum(axis=0), attr, {"delta": delta, "sum": float(attr.sum())}


def batched_grads(ex, xs, target, chunk: int = 16):
    """Input gradients for many inputs, a batch at a time; one by one if the graph has its
    batch size baked in (a Reshape to a constant shape, say)."""
    from ..progress import task
    torch = ex.torch
    with task("gradients", total=xs.shape[0], unit="input") as bar:
        try:
            parts = []
            for i in range(0, xs.shape[0], chunk):
                parts.append(ex.input_grad(xs[i:i + chunk], target))
                bar.update(parts[-1].shape[0])
            return torch.cat(parts)
        except RuntimeError:
            parts = []
            for i in range(xs.shape[0]):
                parts.append(ex.input_grad(xs[i:i + 1], target))
                bar.update()
            return torch.cat(parts)


def smoothgrad(ex, x, target, samples: int = 25, noise: float = 0.15, seed: int = 0, **_):
    gen = ex.torch.Generator().manual_seed(seed)
    sigma = noise * float(x.max() - x.min())
    noisy = x + sigma * ex.torch.randn((samples, *x.shape[1:]), generator=gen)
    g = batched_grads(ex, noisy, target).mean(dim=0, keepdim=True).numpy()
    return _channel_map(g), g, None


def _activation_and_grad(ex, x, target, value):
    """The activation of ``value`` and the gradient of the target score with respect to it."""
    torch = ex.torch
    kept = {}

    def tap(t):
        t.retain_grad()
        kept["a"] = t
        return t

    ex.module.taps[value.name] = tap
    try:
        x = x.clone().requires_grad_(True)  # weights are frozen: the input carries the graph
        score = ex.scores(x)[:, target].sum()
        a = kept["a"]
        if not score.requires_grad:
            raise UsageError(f"the output does not depend differentiably on '{value.name}'")
        (grad,) = torch.autograd.grad(score, a, allow_unused=True)
    finally:
        ex.module.taps.pop(value.name, None)
    if grad is None:
        raise UsageError(f"the output does not depend differentiably on '{value.name}'")
    return a.detach(), grad


def _upsample(torch, cam, size):
    t = torch.as_tensor(cam)[None, None]
    return torch.nn.functional.interpolate(t, size=size, mode="bilinear",
                                           align_corners=False)[0, 0].numpy()


def gradcam(plus: bool):
    def run(ex, x, target, layer=None, **_):
        torch = ex.torch
        value = ex.layer_value(layer)
        a, g = _activation_and_grad(ex, x, target, value)
        if plus:  # Chattopadhyay et al., with the exponential-score simplification
            g2, g3 = g ** 2, g ** 3
            denom = 2 * g2 + (a * g3).sum(dim=(2, 3), keepdim=True)
            alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
            weights = (alpha * torch.relu(g)).sum(dim=(2, 3), keepdim=True)
        else:
            weights = g.mean(dim=(2, 3), keepdim=True)
        cam = torch.relu((weights * a).sum(dim=1))[0].numpy()
        return _upsample(torch, cam, tuple(x.shape[2:])), None, {"layer": value.name,
                                                                 "layer_map": cam}
    return run


def cam(ex, x, target, **_):
    """Zhou et al.'s CAM: needs ... -> GlobalAveragePool -> (Flatten) -> Gemm/MatMul."""
    g = ex.graph
    gap = next((n for n in g.nodes if n.op == "GlobalAveragePool"), None)
    fc = None
    if gap is not None:
        v = gap.outputs[0]
        for _ in range(3):
            consumer = v.consumers[0] if len(v.consumers) == 1 else None
            if consumer is None:
                break
            if consumer.op in ("Gemm", "MatMul"):
                fc = consumer
                break
            v = consumer.outputs[0]
    if fc is None or fc.inputs[1] is None or fc.inputs[1].data is None:
        raise UsageError("cam needs a GlobalAveragePool followed by a fully connected layer; "
                         "use gradcam for other networks")
    w = np.asarray(fc.inputs[1].data.array, dtype=np.float64)
    w = w if (fc.op == "Gemm" and fc.attrs.get("transB")) else w.T  # -> [classes, channels]
    value = gap.inputs[0]
    with ex.torch.no_grad():
        _, captured = ex.module(x, capture=[value.name])
    a = captured[value.name][0].numpy().astype(np.float64)
    m = np.tensordot(w[target], a, axes=(0, 0)).astype(np.float32)
    return _upsample(ex.torch, m, tuple(x.shape[2:])), None, {"layer": value.name}


def maximize(ex, x, target, layer=None, channel=None, iterations: int = 200, lr: float = 0.05,
             jitter: int = 2, blur_every: int = 4, seed: int = 0, **_):
    """Activation maximization from noise: gradient ascent on the input with jitter, periodic
    blur and clipping to the input's range."""
    torch = ex.torch
    gen = torch.Generator().manual_seed(seed)
    lo, hi = float(x.min()), float(x.max())
    img = (torch.rand(x.shape, generator=gen) * 0.2 * (hi - lo) + lo + 0.4 * (hi - lo))
    start = img.clone()
    img.requires_grad_(True)
    value = ex.layer_value(layer) if layer is not None else None
    if value is not None and channel is None:
        raise UsageError("maximize with --layer needs --channel")

    def objective(inp):
        if value is None:
            return ex.scores(inp)[0, target]
        a, _ = None, None
        kept = {}
        ex.module.taps[value.name] = lambda t: kept.setdefault("a", t)
        try:
            ex.scores(inp)
        finally:
            ex.module.taps.pop(value.name, None)
        if not 0 <= channel < kept["a"].shape[1]:
            raise UsageError(f"channel {channel} is out of range for '{value.name}' "
                             f"({kept['a'].shape[1]} channels)")
        return kept["a"][0, channel].mean()

    opt = torch.optim.Adam([img], lr=lr * (hi - lo))
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(x.shape[1], 1, 3, 3)
    from ..progress import task
    with task("maximizing", total=iterations, unit="step") as bar:
        for i in range(iterations):
            dx, dy = torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist()
            opt.zero_grad()
            loss = -objective(torch.roll(img, shifts=(dx, dy), dims=(2, 3)))
            loss.backward()
            opt.step()
            with torch.no_grad():
                img.clamp_(lo, hi)
                if blur_every and i % blur_every == 0:
                    img.copy_(torch.nn.functional.conv2d(img, kernel, padding=1,
                                                         groups=x.shape[1]))
            bar.update()
    with torch.no_grad():
        final, noise = float(objective(img)), float(objective(start))
    result = img.detach().numpy()
    return (np.abs(result[0]).mean(axis=0), result,
            {"activation": final, "noise_activation": noise, "gain": final - noise,
             "ratio": final / noise if noise > 0 else float("nan"), "image": result})


METHOD_FUNCS = {"saliency": gradient, "deconvnet": modified_backprop("deconv"),
                "guided-backprop": modified_backprop("guided"),
                "integrated-gradients": integrated_gradients, "smoothgrad": smoothgrad,
                "cam": cam, "gradcam": gradcam(False), "gradcam++": gradcam(True),
                "maximize": maximize}


def run(ex, method: str, x, target, layer, **options) -> ExplainResult:
    with ex.torch.no_grad():
        scores = ex.scores(x)
    t = ex.check_target(target, scores)
    fn = METHOD_FUNCS[method]
    if method in ("gradcam", "gradcam++", "maximize"):
        options["layer"] = layer
    elif layer is not None and method != "cam":
        raise UsageError(f"--layer applies to gradcam, gradcam++ and maximize, not {method}")
    grid = options.pop("grid", None)
    if grid and method == "maximize":
        options.pop("layer", None)
        return _maximize_grid(ex, x, t, layer, int(grid), scores, **options)
    m, attributions, extra = fn(ex, x, t, **options)
    extra = extra or {}
    return ExplainResult(method, t, np.asarray(m, dtype=np.float32), attributions, x.numpy(),
                         extra.get("layer"), scores.numpy(), extra)


def _maximize_grid(ex, x, target, layer, count: int, scores, **options) -> ExplainResult:
    """Activation maximization for the first ``count`` channels of ``layer``, as one grid."""
    from ..imaging import normalize, tile
    if layer is None:
        raise UsageError("--grid needs --layer (the layer whose channels to maximize)")
    value = ex.layer_value(layer)
    channels = min(count, value.type.shape[1])
    options.pop("channel", None)
    images, ratios = [], []
    for c in range(channels):
        _, img, extra = maximize(ex, x, target, layer=layer, channel=c, **options)
        images.append(normalize(img[0].transpose(1, 2, 0)))
        ratios.append(extra["gain"])
    pictures = np.stack(images)
    if pictures.shape[-1] == 1:
        pictures = np.repeat(pictures, 3, axis=-1)
    grid = tile(pictures[..., :3], fill=1.0)
    return ExplainResult("maximize", target, grid.mean(axis=-1).astype(np.float32), None,
                         x.numpy(), value.name, scores.numpy(),
                         {"grid": grid, "gains": ratios, "channels": channels})
