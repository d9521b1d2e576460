"""`atrous-convert MODEL.onnx|MODEL.tflite -o OUT.atrous [metadata flags]`, or
`atrous-convert CKPT --deeplab2-config CONFIG.textproto -o OUT.atrous` (a DeepLab2 checkpoint), or
`atrous-convert MODEL.pkl|MODEL.pth --detectron2-config CONFIG.yaml -o OUT.atrous` (detectron2).

Errors print one line, `atrous-convert: error: ...`, on stderr and exit with status 2 for a wrong
command line (a bad flag or value, or `--input-shape` that does not fit the model) and 1 for a model
that cannot be converted (unreadable, corrupt, unsupported) or an output that cannot be written; no
output file is created or replaced in either case.
"""
from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Optional

from . import __version__, metadata as meta
from .convert import convert
from .errors import ConversionError, UsageError
from .writer import Attr, FLOATS, INTS, STRINGS, attr_string

PROG = "atrous-convert"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Convert an ONNX or TFLite model, or a DeepLab2 or "
                "detectron2 checkpoint, to an .atrous file.")
    p.add_argument("model", help="input ONNX file, TFLite file (.tflite / 'TFL3' flatbuffer), "
                   "DeepLab2 checkpoint prefix (with --deeplab2-config), or detectron2 checkpoint "
                   "(.pkl / .pth, with --detectron2-config)")
    p.add_argument("-o", "--output", required=True, help="output .atrous file")
    p.add_argument("--task", choices=meta.TASKS, help="metadata 'task'")
    labels = p.add_mutually_exclusive_group()
    labels.add_argument("--labels", help="class names, comma-separated (index = class id)")
    labels.add_argument("--labels-file", help="class names, one per line; a blank line ends the list")
    p.add_argument("--thing-classes", help="class ids with instances, e.g. 11,12,13")
    p.add_argument("--input-mean", help="per-channel mean on 0-255 pixels, e.g. 127.5,127.5,127.5")
    p.add_argument("--input-std", help="per-channel std on 0-255 pixels, e.g. 127.5,127.5,127.5")
    p.add_argument("--input-size", help="HxW the model expects (metadata 'input_size')")
    p.add_argument("--meta", action="append", default=[], metavar="KEY[:TYPE]=VALUE",
                   help="extra metadata; TYPE: int, float, string, ints, floats, strings")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x3xHxW",
                   help="fix the dims of a graph input (needed for dynamic dims)")
    p.add_argument("--deeplab2-config", metavar="CONFIG.textproto",
                   help="MODEL is a DeepLab2 TF2 checkpoint prefix (ckpt-N); build the "
                        "Panoptic-DeepLab network this DeepLab2 experiment config describes and "
                        "take the metadata from it (docs/CHECKPOINTS.md)")
    p.add_argument("--no-fold", action="store_true",
                   help="keep batch_norm nodes instead of folding them into convolutions (ONNX, DeepLab2)")
    p.add_argument("--detectron2-config", metavar="CONFIG.yaml",
                   help="MODEL is a detectron2 Panoptic-DeepLab checkpoint (.pkl or .pth) and this "
                        "its config (the _BASE_ chain is followed); docs/CHECKPOINTS.md")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def _read_labels(path: str) -> List[str]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.rstrip("\r\n") for line in f]
    except OSError as error:
        raise ConversionError(f"cannot read labels file '{path}': {error.strerror}") from None
    # The list ends at the first blank line: label files often close with a note after one
    # (e.g. the PASCAL VOC list's remark on the ignore label 255).
    blank = next((k for k, line in enumerate(lines) if not line.strip()), len(lines))
    return lines[:blank]


def metadata_from_args(args) -> Dict[str, Attr]:
    entries: Dict[str, Attr] = {}
    if args.task:
        meta.merge(entries, "task", attr_string(args.task), "--task")
    if args.labels is not None:
        meta.merge(entries, "labels", meta.parse_typed("labels", STRINGS, args.labels), "--labels")
    if args.labels_file is not None:
        meta.merge(entries, "labels", Attr(STRINGS, _read_labels(args.labels_file)), "--labels-file")
    for key, flag, kind in (("thing_classes", "thing_classes", INTS),
                            ("input_mean", "input_mean", FLOATS), ("input_std", "input_std", FLOATS)):
        text = getattr(args, flag)
        if text is not None:
            meta.merge(entries, key, meta.parse_typed(key, kind, text), "--" + flag.replace("_", "-"))
    if args.input_size is not None:
        size = meta.parse_size(args.input_size, "--input-size")
        if len(size) != 2:
            raise ConversionError(f"--input-size '{args.input_size}' must be HxW")
        meta.merge(entries, "input_size", Attr(INTS, size), "--input-size")
    for argument in args.meta:
        key, attr = meta.parse_meta_argument(argument)
        if key == "source":
            entries["source"] = attr
            continue
        meta.merge(entries, key, attr, f"--meta {argument}")
    return entries


def input_shapes_from_args(arguments: List[str]) -> Dict[str, List[int]]:
    shapes: Dict[str, List[int]] = {}
    for argument in arguments:
        if "=" not in argument:
            raise ConversionError(f"--input-shape '{argument}' is not NAME=1x3xHxW")
        name, dims = argument.rsplit("=", 1)
        if name in shapes:
            raise ConversionError(f"--input-shape given twice for '{name}'")
        shapes[name] = meta.parse_size(dims, f"--input-shape {name}")
    return shapes


def main(argv: Optional[List[str]] = None) -> int:
    try:  # everything the command line says on its own: a mistake here is a usage error
        args = build_parser().parse_args(argv)
        input_shapes = input_shapes_from_args(args.input_shape)
        if input_shapes and args.detectron2_config:
            raise ConversionError("--input-shape is for ONNX inputs; a detectron2 model's size is "
                                  "--input-size HxW")
        metadata = metadata_from_args(args)
    except ConversionError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    try:
        ir = convert(args.model, args.output, input_shapes=input_shapes,
                     fold_batch_norm=not args.no_fold, metadata=metadata,
                     deeplab2_config=args.deeplab2_config,
                     detectron2_config=args.detectron2_config)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except ConversionError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"{PROG}: error: {error.filename or args.output}: {error.strerror}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{PROG}: error: out of memory", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
        # Every known cause is a ConversionError where it happens; this is for the unknown ones.
        text = " ".join(str(error).split())
        print(f"{PROG}: error: internal error ({type(error).__name__}: {text}); please report it",
              file=sys.stderr)
        return 1
    parameters = sum(t.data.size for t in ir.tensors if t.is_constant)
    print(f"{args.output}: {len(ir.nodes)} nodes, {len(ir.tensors)} tensors, "
          f"{parameters} constant values, inputs "
          + ", ".join(f"{ir.tensors[i].name} {'x'.join(map(str, ir.tensors[i].shape))}" for i in ir.inputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
