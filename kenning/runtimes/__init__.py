"""kenning.runtimes."""
