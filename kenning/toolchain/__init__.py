"""The container toolchain: image catalogue, offline base image, builds and lock files."""
