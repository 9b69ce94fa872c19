"""Forward passes over the IR: onnxruntime by default, torch where gradients are needed."""
