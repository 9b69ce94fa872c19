"""`graphscope.record(model, log_dir)`: TensorBoard event files for a PyTorch training loop
that logs nothing yet. Written with torch.utils.tensorboard.SummaryWriter, so TensorBoard and
`graphscope train` both read them.

    rec = graphscope.record(model, "runs/exp1", every=50, optimizer=opt)
    for x, y in data:
        loss = loss_fn(model(x), y); opt.zero_grad(); loss.backward(); opt.step()
        rec.step(loss)            # loss and lr every step; histograms every 50 steps
    rec.close()
"""
from __future__ import annotations

from ..errors import UsageError, require


class TorchRecorder:
    """Forward hooks on the model's leaf modules keep their outputs on the steps that log
    histograms (only then: the hooks cost nothing on other steps)."""

    def __init__(self, model, log_dir, *, every: int = 100, optimizer=None,
                 weights: bool = True, activations: bool = True):
        require("torch", "torch", "graphscope.record")
        require("tensorboard", "train", "graphscope.record")
        from torch.utils.tensorboard import SummaryWriter
        if every < 1:
            raise UsageError(f"every must be >= 1 (got {every})")
        self.model, self.optimizer, self.every = model, optimizer, every
        self.weights = weights
        self.writer = SummaryWriter(log_dir=str(log_dir))
        self.global_step = 0
        self._acts = {}
        self._handles = []
        if activations:
            for name, mod in model.named_modules():
                if name and not any(True for _ in mod.children()):
                    self._handles.append(mod.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def hook(module, inputs, output):
            if self.global_step % self.every == 0 and hasattr(output, "detach"):
                self._acts[name] = output.detach()
        return hook

    def step(self, loss=None, lr=None, **scalars) -> None:
        """Log this step, then advance: loss, learning rate (from the optimizer when not
        given) and extra scalars every step; weight/activation histograms every N steps."""
        s, w = self.global_step, self.writer
        if loss is not None:
            w.add_scalar("loss", _float(loss), s)
        if lr is None and self.optimizer is not None:
            lr = self.optimizer.param_groups[0]["lr"]
        if lr is not None:
            w.add_scalar("lr", float(lr), s)
        for tag, v in sorted(scalars.items()):
            w.add_scalar(tag, _float(v), s)
        if s % self.every == 0:
            if self.weights:
                for name, p in self.model.named_parameters():
                    w.add_histogram(f"weights/{name}", p.detach().cpu().float(), s)
            for name, t in sorted(self._acts.items()):
                if t.numel():
                    w.add_histogram(f"activations/{name}", t.cpu().float(), s)
            self._acts.clear()
        self.global_step += 1

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _float(v) -> float:
    return float(v.detach()) if hasattr(v, "detach") else float(v)


def record(model, log_dir, **options) -> TorchRecorder:
    """Record a PyTorch model's training into TensorBoard event files under ``log_dir``.
    Options: every=100, optimizer=None, weights=True, activations=True."""
    return TorchRecorder(model, log_dir, **options)
