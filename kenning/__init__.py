"""kenning: train, optimise, compile and benchmark deep-learning models on edge boards.

Importing this package imports no deep-learning framework; each implementation
imports its framework when it is used.
"""

__version__ = "0.1.0"
