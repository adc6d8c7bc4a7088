"""Model wrappers: ``frameworks/`` holds per-framework code, ``classification/`` the models."""
