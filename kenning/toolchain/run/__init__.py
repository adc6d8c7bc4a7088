"""Running a scenario: train, compile in the images, serve on boards, measure, one report.

Owns the plan of each deployment (:mod:`~kenning.toolchain.run.plan`: the steps that build and
benchmark it, made once), the steps as data with their records, compiling once per
architecture, benching boards in parallel, repeated runs and the console a run prints to.
Imports :mod:`kenning.toolchain.scenario`, the boards, executors and the library below them;
never :mod:`kenning.toolchain.reproduce`.
"""
