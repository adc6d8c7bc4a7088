"""Scenario files: their schema, reading them with line numbers, and checking what they name.

A scenario is the user's data about one model or demo (see docs/scenarios.md); this package
turns it into checked, resolved models and deployments, reporting every problem at once with
its line. It imports the core (class registry, formats) and nothing else in the toolchain.
"""
