"""Reproduction: re-run a results file's recorded steps in their images and judge them.

Owns where a recorded step runs again (the image it ran in, pulled by digest when it was
published), re-running every repeat, and the verdict table (REPRODUCED, NOT REPRODUCED,
UNVERIFIED). The top room: it imports :mod:`~kenning.toolchain.run` and
:mod:`~kenning.toolchain.images`; nothing imports it but tasks and scenarios.
"""
