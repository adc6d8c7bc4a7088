"""kenning.core."""
