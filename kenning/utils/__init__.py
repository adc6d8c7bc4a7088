"""Small helpers shared by kenning modules (no framework imports)."""
