"""kenning.resources."""
