"""Object-detection models built here."""
