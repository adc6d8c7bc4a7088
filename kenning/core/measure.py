"""How a latency run is measured: warm-up, run length, sample order, percentiles, repeats.

Every measuring scenario takes the same flags (:func:`add_measure_arguments`, also ``invoke
bench`` options and a scenario file's ``measure`` section). A run first warms up (inferences
whose results are discarded, counted in the results), then loops over the data in a seeded
order, as MLPerf LoadGen does, until it is complete (:meth:`MeasureSettings.required`): at
least ``min_samples`` samples, every sample once, enough runtime calls for each percentile's
confidence interval (one call is one timing, whatever the batch size), and at least
``min_duration_s`` seconds. ``repeats`` is how many such runs a benchmark makes of each
deployment, each in a process of its own, so that comparisons can see run-to-run variation.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, StrictFloat, ValidationError, field_validator

from kenning.core.figures import DEFAULT_CONFIDENCE, DEFAULT_PERCENTILES, samples_needed
from kenning.utils.argtypes import checked, non_negative_float, non_negative_int, positive_int
from kenning.utils.errors import ConfigurationError

#: the largest value of each setting: beyond them a run would not end (or a seed not be one)
MAX_WARMUP = 1_000_000
MAX_SAMPLES = 10_000_000
MAX_SECONDS = 86_400.0
MAX_SEED = 2**32 - 1
MAX_CORES = 1024.0


class MeasureSettings(BaseModel):
    """What a run was asked to measure (stored in the results file as ``measure``)."""

    warmup: int = Field(
        10, strict=True, ge=0, le=MAX_WARMUP, description="inferences discarded before measuring"
    )
    warmup_s: float = Field(
        0.0, strict=True, ge=0.0, le=MAX_SECONDS, description="... or at least this many seconds"
    )
    min_samples: int = Field(
        1000, strict=True, ge=1, le=MAX_SAMPLES, description="measure at least this many samples"
    )
    min_duration_s: float = Field(
        1.0,
        strict=True,
        ge=0.0,
        le=MAX_SECONDS,
        description="... for at least this long (the load check needs 1 s)",
    )
    seed: int = Field(
        0, strict=True, ge=0, le=MAX_SEED, description="seed of the sample order (reshuffled)"
    )
    percentiles: list[StrictFloat] = Field(default_factory=lambda: list(DEFAULT_PERCENTILES))
    confidence: float = Field(DEFAULT_CONFIDENCE, strict=True, gt=0.5, lt=1.0)
    max_other_load: float = Field(
        0.5,
        strict=True,
        ge=0.0,
        le=MAX_CORES,
        description="cores of CPU load from other processes on the target tolerated",
    )
    subset: Literal["validation", "all"] = Field(
        "validation", description="the samples measured: the validation split, or every one"
    )
    repeats: int = Field(
        3, strict=True, ge=1, le=100, description="runs of each deployment (own processes)"
    )

    @field_validator("percentiles")
    @classmethod
    def _percentiles(cls, value: list[float]) -> list[float]:
        if not value or any(not 0.0 < q < 100.0 for q in value):
            raise ValueError("percentiles must be between 0 and 100")
        return value

    def required(self, distinct: int, batch_size: int) -> tuple[int, int]:
        """The samples and runtime calls a complete run measures at least.

        ``distinct`` is the number of samples in the measured subset: each is measured once
        at least. The calls are enough for every percentile's interval at the confidence.
        """
        batch = max(1, batch_size)
        floor = max(samples_needed(q, self.confidence) for q in self.percentiles)
        calls = max(math.ceil(max(self.min_samples, distinct) / batch), floor)
        return calls * batch, calls

    @classmethod
    def checked(cls, **values: object) -> MeasureSettings:
        """Settings from option values, or one ConfigurationError naming every bad one.

        Raises
        ------
        ConfigurationError
            Naming every value that is out of range or of the wrong type, with its bounds.
        """
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False):
                field = str(error["loc"][0]) if error["loc"] else ""
                flag = _FLAGS.get(field, "--" + field.replace("_", "-"))
                problems.append(f"{flag} {error.get('input')!r}: {error['msg'].lower()}")
            raise ConfigurationError("; ".join(problems)) from None

    @classmethod
    def from_argparse(cls, args: argparse.Namespace) -> MeasureSettings:
        """The settings of parsed :data:`MEASURE_ARGUMENTS`.

        Raises
        ------
        ConfigurationError
            Naming every value out of range (``--min-samples`` above its maximum, ...).
        """
        return cls.checked(
            warmup=args.warmup,
            warmup_s=args.warmup_s,
            min_samples=args.min_samples,
            min_duration_s=args.min_duration,
            seed=args.sample_seed,
            percentiles=list(args.percentiles),
            confidence=args.confidence,
            max_other_load=args.max_other_load,
            subset=getattr(args, "subset", "validation"),
            repeats=getattr(args, "repeats", 1),
        )

    def identity(self) -> dict[str, object]:
        """Each setting that defines a run, by its flag (``repeats`` counts runs: not one)."""
        values = self.model_dump(exclude={"repeats"})
        return {_FLAGS.get(k, "--" + k.replace("_", "-")): v for k, v in values.items()}

    def to_argv(self) -> list[str]:
        """The flags that give these settings to one run (``repeats`` is the caller's)."""
        return [
            "--warmup",
            str(self.warmup),
            "--warmup-s",
            str(self.warmup_s),
            "--min-samples",
            str(self.min_samples),
            "--min-duration",
            str(self.min_duration_s),
            "--sample-seed",
            str(self.seed),
            "--percentiles",
            *(f"{q:g}" for q in self.percentiles),
            "--confidence",
            str(self.confidence),
            "--max-other-load",
            str(self.max_other_load),
            "--subset",
            self.subset,
        ]


#: the flag of each setting, for messages
_FLAGS = {"min_duration_s": "--min-duration", "seed": "--sample-seed"}


class WarmupRecord(BaseModel):
    """The warm-up a run did before measuring."""

    count: int
    seconds: float


_percentile = checked(float, lambda v: 0.0 < v < 100.0, "a percentile between 0 and 100")
_confidence = checked(float, lambda v: 0.5 < v < 1.0, "a confidence between 0.5 and 1")


def add_measure_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the measurement flags to a scenario's parser (one group, defaults shown)."""
    d = MeasureSettings()
    group = parser.add_argument_group("measurement")
    group.add_argument(
        "--subset",
        choices=["validation", "all"],
        default=d.subset,
        help="the samples measured: the validation split (default; int8 calibration draws from "
        "the train split) or every sample",
    )
    group.add_argument(
        "--warmup",
        type=non_negative_int,
        default=d.warmup,
        help=f"inferences run and discarded first (default {d.warmup})",
    )
    group.add_argument(
        "--warmup-s",
        type=non_negative_float,
        default=d.warmup_s,
        help="... or warm up for at least this many seconds",
    )
    group.add_argument(
        "--min-samples",
        type=positive_int,
        default=d.min_samples,
        help=f"measure at least this many samples, looping over the data (default "
        f"{d.min_samples}); the run also makes the runtime calls its percentiles need "
        "(p99: 662 at 99%% confidence)",
    )
    group.add_argument(
        "--min-duration",
        type=non_negative_float,
        default=d.min_duration_s,
        help=f"... and for at least this many seconds (default {d.min_duration_s:g}; a "
        "shorter run is too short to measure the load beside it: UNVERIFIED)",
    )
    group.add_argument(
        "--sample-seed", type=non_negative_int, default=d.seed, help="seed of the sample order"
    )
    group.add_argument(
        "--percentiles",
        type=_percentile,
        nargs="+",
        default=d.percentiles,
        metavar="Q",
        help="percentiles to report (default 50 90 99)",
    )
    group.add_argument(
        "--confidence",
        type=_confidence,
        default=d.confidence,
        help="confidence of the percentile intervals (default 0.99)",
    )
    group.add_argument(
        "--max-other-load",
        type=non_negative_float,
        default=d.max_other_load,
        help="CPU load from other processes on the target, in cores, above "
        "which the run is INVALID (default 0.5)",
    )


def sample_order(indices: np.ndarray, seed: int) -> Iterator[tuple[int, int]]:
    """``(pass, index)`` forever; pass ``p`` is ``indices`` in an order seeded by ``seed + p``."""
    number = 0
    while True:
        for index in np.random.default_rng(seed + number).permutation(indices):
            yield number, int(index)
        number += 1
