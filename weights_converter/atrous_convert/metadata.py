"""Model metadata (docs/FORMAT.md, "Metadata section"): typing of command-line values.

Keys the runtime understands always get their documented type, whatever the spelling on the
command line (`--meta center_threshold=1` is stored as the float 1.0); other keys are typed from
the value (int, else float, else string) or explicitly with `KEY:TYPE=VALUE`.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from .errors import ConversionError
from .writer import FLOAT, FLOATS, INT, INTS, KIND_NAMES, STRING, STRINGS, Attr

KNOWN_KEYS = {
    "producer": STRING, "source": STRING, "task": STRING, "labels": STRINGS,
    "thing_classes": INTS, "input_mean": FLOATS, "input_std": FLOATS, "input_size": INTS,
    "label_divisor": INT, "void_label": INT, "nms_kernel": INT, "top_k": INT,
    "stuff_area_limit": INT, "center_threshold": FLOAT, "input_layout": STRING,
}
INPUT_LAYOUTS = ("nchw", "nhwc")
TASKS = ("classification", "semantic", "panoptic", "foreground", "none")
KIND_BY_NAME = {name: kind for kind, name in KIND_NAMES.items()}


def _int(text: str, key: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None and value.is_integer():
        return int(value)
    raise ConversionError(f"metadata '{key}': '{text}' is not an integer")


def _float(text: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConversionError(f"metadata '{key}': '{text}' is not a number") from None


def _list(text: str) -> List[str]:
    return [] if text == "" else [part.strip() for part in text.split(",")]


def parse_typed(key: str, kind: int, text: str) -> Attr:
    """Parses `text` as a value of the given kind (lists are comma-separated)."""
    if kind == INT:
        return Attr(INT, _int(text.strip(), key))
    if kind == FLOAT:
        return Attr(FLOAT, _float(text.strip(), key))
    if kind == STRING:
        return Attr(STRING, text)
    if kind == INTS:
        return Attr(INTS, [_int(v, key) for v in _list(text)])
    if kind == FLOATS:
        return Attr(FLOATS, [_float(v, key) for v in _list(text)])
    return Attr(STRINGS, [] if text == "" else text.split(","))


def infer_typed(key: str, text: str) -> Attr:
    """int, else float, else string."""
    try:
        return Attr(INT, int(text.strip(), 10))
    except ValueError:
        pass
    try:
        return Attr(FLOAT, float(text.strip()))
    except ValueError:
        return Attr(STRING, text)


def check_known(key: str, attr: Attr) -> Attr:
    """Brings a value of a documented key to its documented type, or raises."""
    expected = KNOWN_KEYS.get(key)
    if expected is None or attr.kind == expected:
        value = attr
    elif expected == FLOAT and attr.kind == INT:
        value = Attr(FLOAT, float(attr.value))
    elif expected == INT and attr.kind == FLOAT and float(attr.value).is_integer():
        value = Attr(INT, int(attr.value))
    elif expected in (INTS, FLOATS, STRINGS) and attr.kind in (INT, FLOAT, STRING):
        scalar = {INTS: INT, FLOATS: FLOAT, STRINGS: STRING}[expected]
        value = Attr(expected, [check_known_scalar(key, scalar, attr)])
    else:
        raise ConversionError(f"metadata '{key}' must be {KIND_NAMES[expected]}, "
                              f"not {KIND_NAMES[attr.kind]}")
    if key == "task" and value.value not in TASKS:
        raise ConversionError(f"metadata 'task' must be one of {', '.join(TASKS)}, not '{value.value}'")
    if key == "input_layout" and value.value not in INPUT_LAYOUTS:
        raise ConversionError(f"metadata 'input_layout' must be 'nchw' or 'nhwc', not '{value.value}'")
    return value


def check_known_scalar(key: str, kind: int, attr: Attr):
    text = str(attr.value)
    return parse_typed(key, kind, text).value


def parse_meta_argument(argument: str) -> Tuple[str, Attr]:
    """`KEY=VALUE` or `KEY:TYPE=VALUE` (TYPE: int, float, string, ints, floats, strings)."""
    if "=" not in argument:
        raise ConversionError(f"--meta '{argument}' is not KEY=VALUE")
    key, text = argument.split("=", 1)
    kind = None
    if ":" in key:
        key, type_name = key.split(":", 1)
        if type_name not in KIND_BY_NAME:
            raise ConversionError(f"--meta '{argument}': unknown type '{type_name}' "
                                  f"(int, float, string, ints, floats, strings)")
        kind = KIND_BY_NAME[type_name]
    key = key.strip()
    if not key:
        raise ConversionError(f"--meta '{argument}' has an empty key")
    expected = KNOWN_KEYS.get(key)
    if kind is not None:
        attr = parse_typed(key, kind, text)
    elif expected is not None:
        attr = parse_typed(key, expected, text)
    else:
        attr = infer_typed(key, text)
    return key, check_known(key, attr)


def parse_size(text: str, what: str) -> List[int]:
    """`HxW` or `1x3xHxW` → list of positive ints."""
    try:
        dims = [int(d) for d in text.lower().split("x")]
    except ValueError:
        raise ConversionError(f"{what} '{text}' is not of the form AxBx...") from None
    if not dims or any(d <= 0 for d in dims):
        raise ConversionError(f"{what} '{text}' must have positive dims")
    return dims


def merge(metadata: Dict[str, Attr], key: str, attr: Attr, origin: str) -> None:
    """Adds one entry; the same key given twice is an error rather than a silent override."""
    if key in metadata:
        raise ConversionError(f"metadata '{key}' is given twice ({origin})")
    metadata[key] = check_known(key, attr)
