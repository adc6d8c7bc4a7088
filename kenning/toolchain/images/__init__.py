"""Kenning's pinned images: what they are, how they are built, locked, published and read back.

Owns the image catalogue (names, architectures, where each image's files live), the offline
Debian base image, builds with their labels, lock files and their history, and the registry
images are pushed to and pulled from by digest. Imports :mod:`kenning.executors` (Docker)
and below; nothing else in the toolchain.
"""
