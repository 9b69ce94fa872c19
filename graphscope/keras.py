"""`graphscope.keras.Recorder`: a Keras callback writing TensorBoard event files (loss,
learning rate and every metric each batch; weight histograms every N batches) with
tf.summary, so that TensorBoard and `graphscope train` read them. Keras is imported only when
Recorder is first used.

    model.fit(x, y, callbacks=[graphscope.keras.Recorder("runs/exp1", every=50)])
"""
from __future__ import annotations

from .errors import UsageError, require

_cls = None


def _recorder_class():
    global _cls
    if _cls is not None:
        return _cls
    keras = require("keras", "tf", "graphscope.keras.Recorder")
    tf = require("tensorflow", "tf", "graphscope.keras.Recorder")

    class Recorder(keras.callbacks.Callback):
        def __init__(self, log_dir, every: int = 100):
            super().__init__()
            if every < 1:
                raise UsageError(f"every must be >= 1 (got {every})")
            self.log_dir, self.every = str(log_dir), every
            self.global_step = 0
            self._writer = None

        def on_train_begin(self, logs=None):
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)

        def on_train_batch_end(self, batch, logs=None):
            s = self.global_step
            with self._writer.as_default(step=s):
                for key, value in sorted((logs or {}).items()):
                    try:
                        tf.summary.scalar(key, float(value))
                    except (TypeError, ValueError):
                        pass
                lr = _learning_rate(self.model)
                if lr is not None:
                    tf.summary.scalar("lr", lr)
                if s % self.every == 0:
                    for layer in self.model.layers:
                        for var in layer.weights:
                            tf.summary.histogram(f"weights/{layer.name}/{var.name}",
                                                 keras.ops.convert_to_numpy(var))
            self.global_step += 1

        def on_epoch_end(self, epoch, logs=None):
            with self._writer.as_default(step=self.global_step):
                tf.summary.scalar("epoch", epoch + 1)
                for key, value in sorted((logs or {}).items()):
                    if key.startswith("val_"):
                        tf.summary.scalar(key, float(value))

        def on_train_end(self, logs=None):
            if self._writer is not None:
                self._writer.flush()

        def close(self):
            if self._writer is not None:
                self._writer.close()

    _cls = Recorder
    return _cls


def _learning_rate(model):
    opt = getattr(model, "optimizer", None)
    lr = getattr(opt, "learning_rate", None)
    try:
        return float(lr.numpy() if hasattr(lr, "numpy") else lr)
    except (TypeError, ValueError):
        return None


def __getattr__(name):
    if name == "Recorder":
        return _recorder_class()
    raise AttributeError(f"module 'graphscope.keras' has no attribute '{name}'")
