"""kenning.runtimeprotocols."""
