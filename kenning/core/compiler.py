"""The ModelCompiler interface: optimise and compile a model for a target.

Implementations live in :mod:`kenning.compilers`; each writes the compiled
artifact and an :class:`~kenning.core.iospec.IOSpec` beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg, ArgumentsHandler
from kenning.core.calibration import input_ranges, merge_ranges, read_calibration, save_record
from kenning.core.dataset import Dataset
from kenning.core.iospec import IOSpec
from kenning.core.model import ModelWrapper
from kenning.utils.errors import ConfigurationError


class ModelCompiler(ArgumentsHandler):
    """Base class of compilers.

    Parameters
    ----------
    dataset : Dataset, optional
        Calibration data for quantising compilers.
    compiled_model_path : Path
        Where the compiled artifact is written.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--compiled-model-path", Path, help="where the compiled model is written"),
    )

    #: name of the compiler's framework module, e.g. ``"tvm"``
    framework: ClassVar[str] = ""
    #: model formats :meth:`compile` accepts (``"keras"``, ``"torch"``, ``"onnx"``)
    input_formats: ClassVar[tuple[str, ...]] = ("onnx",)
    #: format of what it writes (a key of :data:`kenning.core.formats.FORMATS`)
    output_format: ClassVar[str] = "onnx"
    #: the precision the artifact computes in (see :meth:`precision_for`)
    precision: ClassVar[str] = "float32"

    @classmethod
    def precision_for(cls, parameters: Mapping[str, Any]) -> str:
        """The artifact's precision with these parameters: ``float32``, ``float16`` or ``int8``.

        It picks the default tolerances of output agreement
        (:data:`kenning.core.outputcheck.DEFAULT_TOLERANCES`).
        """
        return cls.precision

    @classmethod
    def calibrates_with(cls, parameters: Mapping[str, Any]) -> bool:
        """Whether the compiler calibrates on data with these parameters (int8 quantisers)."""
        return False

    def __init__(self, dataset: Dataset | None, compiled_model_path: Path) -> None:
        self.dataset = dataset
        self.compiled_model_path = Path(compiled_model_path)
        #: turns a dataset batch into what the source model takes; set by compile_wrapper
        self.input_transform: Callable[[np.ndarray], Any] = lambda x: x
        #: model-ready calibration inputs to use instead of the dataset (written by the
        #: chain's first step with the source model's preprocessing)
        self.calibration_file: Path | None = None
        #: each input's [min, max] over what calibration saw, and what that was
        self.calibrated_ranges: list[list[float]] = []
        self.calibrated_on = ""

    def calibration_batches(self, samples: int, option: str) -> Iterator[np.ndarray]:
        """Up to ``samples`` single-sample model inputs for quantising; their ranges recorded.

        They come from :attr:`calibration_file` when set, else from the dataset's train split
        through :attr:`input_transform` (:meth:`source_batches`).
        """
        ranges: list[list[float]] = []
        if self.calibration_file is not None:
            batches: Iterator[Any] = read_calibration(self.calibration_file, samples)
            self.calibrated_on = f"{self.calibration_file.name}, written by the chain's first step"
        else:
            batches = self.source_batches(samples, option)
            self.calibrated_on = f"{type(self.dataset).__name__} train split"
        for batch in batches:
            ranges = merge_ranges(ranges, input_ranges([batch]))
            yield batch
        self.calibrated_ranges = ranges

    def source_batches(self, samples: int, option: str) -> Iterator[np.ndarray]:
        """Up to ``samples`` single-sample model inputs from the train split, preprocessed.

        Parameters
        ----------
        samples : int
            How many samples to draw.
        option : str
            The option that asked for calibration, named in the error.

        Raises
        ------
        ConfigurationError
            If the compiler was given no dataset.
        """
        if self.dataset is None:
            raise ConfigurationError(
                f"{type(self).__name__} {option} calibrates on a dataset, and none was given"
            )
        for count, (_, inputs, _) in enumerate(self.dataset.iter_batches("train", 1)):
            if count >= samples:
                return
            transformed = self.input_transform(inputs)
            if isinstance(transformed, list | tuple):  # a model with several inputs
                yield [np.asarray(a) for a in transformed]  # type: ignore[misc]
            else:
                yield np.asarray(transformed, dtype=np.float32)

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Compile ``input_model_path`` to ``compiled_model_path``.

        Parameters
        ----------
        input_model_path : Path
            The model file as its wrapper saved it.
        io_spec : IOSpec
            The source model's inputs and outputs.

        Returns
        -------
        IOSpec
            The compiled artifact's inputs and outputs, also saved beside it.
        """
        raise NotImplementedError

    def get_framework_and_version(self) -> tuple[str, str]:
        """The compiler's name and version."""
        raise NotImplementedError

    def compile_wrapper(self, model: ModelWrapper) -> IOSpec:
        """Compile a loaded model wrapper, exporting it to ONNX first when needed.

        Raises
        ------
        ConfigurationError
            If the compiler takes neither the wrapper's format nor ONNX.
        """
        self.input_transform = model.preprocess_input
        if model.model_format in self.input_formats:
            source = model.model_path
        elif "onnx" in self.input_formats:
            source = self.compiled_model_path.with_name(
                self.compiled_model_path.stem + ".src.onnx"
            )
            source.parent.mkdir(parents=True, exist_ok=True)
            model.save_to_onnx(source)
        else:
            raise ConfigurationError(
                f"{type(self).__name__} takes {', '.join(self.input_formats)} models; "
                f"{type(model).__name__} is a {model.model_format} model"
            )
        spec = self.compile(source, model.get_io_specification())
        if self.calibrated_ranges:
            names = [t.name for t in spec.inputs]
            save_record(
                self.compiled_model_path, names, self.calibrated_ranges, self.calibrated_on
            )
        return spec
