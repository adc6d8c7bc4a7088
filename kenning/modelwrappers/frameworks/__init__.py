"""Code shared by all models of one framework."""
