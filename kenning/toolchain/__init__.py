"""The toolchain around the library: images, scenario files, runs on boards, reproduction.

Four rooms, each a sub-package, importing only downwards (pyproject.toml's import-linter
contracts enforce it; docs/architecture.md draws it):

``reproduce``
    re-run a results file's recorded steps and judge them against the original;
``run``
    train, compile, serve and benchmark a scenario's deployments on boards, one report;
``scenario``
    read and check a scenario file: what its names stand for, whether its chains work;
``images``
    kenning's pinned images: catalogue, offline base image, builds, lock files, registry.

``scenario`` and ``images`` know nothing of each other; ``python -m kenning.toolchain`` is
the images' command line.
"""
