"""Loaders of the frameworks that compilers and runtimes share.

Below both families, so neither imports the other: a compiler that checks its artifact with
the framework's interpreter and the runtime that runs it find the framework here.
"""
