"""kenning.compilers."""
