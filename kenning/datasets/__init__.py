"""Dataset implementations: ``digits`` (bundled, offline) and ``pet`` (Oxford-IIIT Pet)."""
