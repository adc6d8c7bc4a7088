"""kenning.executors."""
