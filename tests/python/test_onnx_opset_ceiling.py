"""The converter reads opsets up to MAX_OPSET because every op it maps or folds has, at that
opset, the attributes and inputs it had at opset 21 (the later versions only admit more element
types). This checks that claim against the schemas of the installed `onnx`."""
import onnx.defs
import pytest

from atrous_convert.folding import EVALUATORS
from atrous_convert.onnx_import import MAX_OPSET
from atrous_convert.onnx_ops import HANDLERS

OPS = sorted(set(HANDLERS) | set(EVALUATORS) | {"Shape", "Size"})
# Attributes added after opset 21 that cannot matter for what the converter accepts.
ADDED_LATER = {("Cast", "round_mode"): "opset 24; only for casts to float8e8m0, which the IR lacks",
               ("Range", "stash_type"): "opset 27; only for float16 and bfloat16, which the IR lacks",
               ("SpaceToDepth", "mode"): "opset 28; read by the SpaceToDepth mapping"}


def signature(schema):
    attributes = sorted((name, attribute.default_value.SerializeToString())
                        for name, attribute in schema.attributes.items()
                        if (schema.name, name) not in ADDED_LATER)
    return (attributes, [(i.name, i.option) for i in schema.inputs],
            [(o.name, o.option) for o in schema.outputs])


@pytest.mark.parametrize("op", OPS)
def test_schema_at_the_ceiling_equals_opset_21(op):
    assert signature(onnx.defs.get_schema(op, MAX_OPSET)) == signature(onnx.defs.get_schema(op, 21))
