"""atrous-convert: ONNX and TFLite models → `.atrous` files (docs/FORMAT.md) for the atrous runtime."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConversionError  # noqa: E402
from .convert import convert, convert_to_model  # noqa: E402

__all__ = ["ConversionError", "convert", "convert_to_model", "__version__"]
