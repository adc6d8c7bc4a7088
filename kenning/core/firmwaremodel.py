"""A model built into a microcontroller's firmware, as the host names it in MODEL.

Compiler ``onnx-c`` writes a folder (the model's C and ``model.json``); the firmware built
from it holds the model's SHA-256, and MODEL to such a target carries that SHA-256 (32 bytes)
instead of the model (docs/protocol.md, "Models in firmware").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kenning.utils.errors import ModelError

#: the file in a firmware model folder that says which model it is
MODEL_JSON = "model.json"


def firmware_model_sha256(folder: Path) -> str:
    """The hex SHA-256 of the model in a firmware model folder.

    Raises
    ------
    ModelError
        If the folder has no readable ``model.json`` with the model's SHA-256.
    """
    path = Path(folder) / MODEL_JSON
    try:
        sha = json.loads(path.read_text()).get("onnx_sha256")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(
            f"{folder} is a folder but not a firmware model (no readable {MODEL_JSON}): give "
            "a model file, or the folder compiler onnx-c wrote",
            Path(folder),
        ) from exc
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ModelError(f"{path} names no SHA-256 of its model (onnx_sha256)", path)
    return sha
