"""kenning.onnxconverters."""
