"""kenning.scenarios."""
