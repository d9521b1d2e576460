"""Graph-level behaviour of the ONNX importer: constant folding of shape arithmetic, removal of
Identity/Dropout, output names, BatchNorm folding, and the errors for what the IR cannot run."""
import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from atrous_convert import ConversionError, convert, convert_to_model
from onnx_helpers import check_against_onnxruntime, make_model, random_inputs

node = helper.make_node


def const(name, array):
    return node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(array)))


def interpolate_chain(opset):
    """What torch.onnx.export emits for F.interpolate(x, size=(2H, 2W)) with traced shapes."""
    nodes = [
        node("Relu", ["x"], ["r"]),
        node("Shape", ["r"], ["shape"]),
        const("two", np.array(2, np.int64)), const("three", np.array(3, np.int64)),
        node("Gather", ["shape", "two"], ["h"], axis=0), node("Gather", ["shape", "three"], ["w"], axis=0),
        node("Cast", ["h"], ["hf"], to=TensorProto.FLOAT), node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT),
        const("scale", np.array(2.0, np.float32)),
        node("Mul", ["hf", "scale"], ["h2f"]), node("Mul", ["wf", "scale"], ["w2f"]),
        node("Floor", ["h2f"], ["h2ff"]),
        node("Cast", ["h2ff"], ["h2"], to=TensorProto.INT64), node("Cast", ["w2f"], ["w2"], to=TensorProto.INT64),
    ]
    if opset >= 13:
        nodes += [const("axis0", np.array([0], np.int64)),
                  node("Unsqueeze", ["h2", "axis0"], ["h2u"]), node("Unsqueeze", ["w2", "axis0"], ["w2u"])]
    else:
        nodes += [node("Unsqueeze", ["h2"], ["h2u"], axes=[0]), node("Unsqueeze", ["w2"], ["w2u"], axes=[0])]
    nodes += [
        const("zero", np.array([0], np.int64)),
        node("Slice", ["shape", "zero", "two_1d"], ["nc"]),
        node("Concat", ["nc", "h2u", "w2u"], ["sizes"], axis=0),
        const("empty", np.zeros(0, np.float32)),
        node("Resize", ["r", "empty", "empty", "sizes"], ["y"], mode="linear",
             coordinate_transformation_mode="align_corners"),
    ]
    return make_model(nodes, {"x": (1, 2, 7, 9)}, ["y"], {"two_1d": np.array([2], np.int64)}, opset)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_shape_arithmetic_folds_away(opset, atrous, workdir):
    model = interpolate_chain(opset)
    ir = check_against_onnxruntime(model, atrous, workdir)
    assert [n.op for n in ir.nodes] == ["relu", "resize"]
    assert ir.nodes[1].attributes["sizes"].value == [14, 18]
    assert "scales" not in ir.nodes[1].attributes


def test_identity_and_dropout_disappear_and_names_are_kept(atrous, workdir):
    model = make_model([node("Identity", ["x"], ["i"]), node("Relu", ["i"], ["r"]),
                        node("Dropout", ["r", "ratio"], ["d"]), node("Identity", ["d"], ["y"]),
                        node("Identity", ["x"], ["passthrough"])],
                       {"x": (1, 2, 3, 4)}, ["y", "passthrough"], {"ratio": np.array(0.5, np.float32)})
    ir = check_against_onnxruntime(model, atrous, workdir)
    assert [n.op for n in ir.nodes] == ["relu", "reshape"]  # the input passthrough needs a copy
    assert [ir.tensors[i].name for i in ir.outputs] == ["y", "passthrough"]


def test_training_mode_dropout_with_ratio_zero_disappears(atrous, workdir):
    model = make_model([node("Dropout", ["x", "ratio", "training"], ["d"]), node("Relu", ["d"], ["y"])],
                       {"x": (1, 2, 3, 4)}, ["y"], {"ratio": np.array(0.0, np.float32),
                                                   "training": np.array(True)}, opset=13)
    ir = check_against_onnxruntime(model, atrous, workdir)
    assert [n.op for n in ir.nodes] == ["relu"]


def test_constant_subgraphs_fold_in_numpy(atrous, workdir):
    model = make_model([const("c", np.array([4.0, 9.0, 16.0], np.float32)), node("Sqrt", ["c"], ["s"]),
                        const("shape", np.array([1, 3, 1, 1], np.int64)), node("Reshape", ["s", "shape"], ["s4"]),
                        node("Neg", ["s4"], ["n"]), node("Add", ["x", "n"], ["y"])],
                       {"x": (1, 3, 2, 2)}, ["y"])
    ir = check_against_onnxruntime(model, atrous, workdir)
    assert [n.op for n in ir.nodes] == ["add"]
    constant = ir.tensors[ir.nodes[0].inputs[1]]
    np.testing.assert_array_equal(constant.data.reshape(-1), [-2, -3, -4])


def test_initializer_listed_as_input_is_not_a_graph_input():
    model = make_model([node("Add", ["x", "b"], ["y"])], {"x": (1, 3), "b": (1, 3)}, ["y"],
                       {"b": np.ones((1, 3), np.float32)})
    ir = convert_to_model(model)
    assert [ir.tensors[i].name for i in ir.inputs] == ["x"]


def bn_inits(channels, seed=0):
    rng = np.random.default_rng(seed)
    return {"s": rng.uniform(0.5, 1.5, channels).astype(np.float32),
            "b": rng.normal(0, 0.1, channels).astype(np.float32),
            "m": rng.normal(0, 0.1, channels).astype(np.float32),
            "v": rng.uniform(0.5, 2.0, channels).astype(np.float32)}


def conv_bn_model(with_bias=True, group=1, epsilon=1e-3):
    inits = bn_inits(6)
    rng = np.random.default_rng(1)
    inits["W"] = rng.standard_normal((6, 6 // group, 3, 3)).astype(np.float32)
    conv_inputs = ["x", "W"]
    if with_bias:
        inits["B"] = rng.standard_normal(6).astype(np.float32)
        conv_inputs.append("B")
    return make_model([node("Conv", conv_inputs, ["c"], pads=[1, 1, 1, 1], group=group, name="conv"),
                       node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"], epsilon=epsilon, name="bn"),
                       node("Relu", ["bn"], ["y"])], {"x": (1, 6, 7, 8)}, ["y"], inits), inits


@pytest.mark.parametrize("with_bias, group", [(True, 1), (False, 1), (True, 6)])
def test_batch_norm_folding_formula(with_bias, group):
    model, inits = conv_bn_model(with_bias, group)
    ir = convert_to_model(model)
    assert [n.op for n in ir.nodes] == ["conv", "relu"]
    conv = ir.nodes[0]
    weight, bias = (ir.tensors[i].data for i in conv.inputs[1:])
    factor = inits["s"].astype(np.float64) / np.sqrt(inits["v"].astype(np.float64) + np.float64(np.float32(1e-3)))
    b0 = inits["B"].astype(np.float64) if with_bias else 0.0
    np.testing.assert_array_equal(weight, (inits["W"] * factor[:, None, None, None]).astype(np.float32))
    np.testing.assert_array_equal(bias, ((b0 - inits["m"]) * factor + inits["b"]).astype(np.float32))
    assert ir.tensors[conv.outputs[0]].name == "bn"


@pytest.mark.parametrize("with_bias, group", [(True, 1), (False, 6)])
def test_batch_norm_folding_is_equivalent(with_bias, group, atrous, workdir):
    model, _ = conv_bn_model(with_bias, group)
    feeds = random_inputs({"x": (1, 6, 7, 8)})
    folded = convert(model, os.path.join(workdir, "folded.atrous"))
    unfolded = convert(model, os.path.join(workdir, "unfolded.atrous"), fold_batch_norm=False)
    assert [n.op for n in folded.nodes] == ["conv", "relu"]
    assert [n.op for n in unfolded.nodes] == ["conv", "batch_norm", "relu"]
    a = atrous(os.path.join(workdir, "folded.atrous"), feeds)["y"]
    b = atrous(os.path.join(workdir, "unfolded.atrous"), feeds)["y"]
    assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(b)
    check_against_onnxruntime(model, atrous, workdir, feeds)


def test_batch_norm_not_after_conv_stays(atrous, workdir):
    inits = bn_inits(3)
    model = make_model([node("Relu", ["x"], ["r"]), node("BatchNormalization", ["r", "s", "b", "m", "v"], ["y"])],
                       {"x": (1, 3, 5, 5)}, ["y"], inits)
    ir = check_against_onnxruntime(model, atrous, workdir)
    assert [n.op for n in ir.nodes] == ["relu", "batch_norm"]


def test_batch_norm_after_shared_conv_output_is_not_folded(atrous, workdir):
    model, _ = conv_bn_model()
    graph = model.graph
    graph.node.append(node("Add", ["c", "y"], ["z"]))
    graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    ir = check_against_onnxruntime(model, atrous, workdir)
    assert [n.op for n in ir.nodes] == ["conv", "batch_norm", "relu", "add"]


@pytest.mark.parametrize("nodes, message", [
    ([node("Hardmax", ["x"], ["y"], name="hm")],
     "unsupported ONNX operator: Hardmax ×1 (opset 13; first node: 'hm')"),
    ([node("FusedConv", ["x"], ["y"], name="fc", domain="com.microsoft")],
     "unsupported ONNX operator: com.microsoft.FusedConv ×1 (opset 13; first node: 'fc')"),
    ([node("Resize", ["x", "", "sc"], ["y"], name="rs", mode="area")], "node 'rs': resize mode 'area'"),
    ([node("Resize", ["x", "", "sc"], ["y"], name="rs", coordinate_transformation_mode="tf_half_pixel_for_nn")],
     "tf_half_pixel_for_nn"),
    ([node("Resize", ["x", "", "sc"], ["y"], name="rs", coordinate_transformation_mode="tf_crop_and_resize")],
     "tf_crop_and_resize"),
    ([node("Resize", ["x", "", "sc"], ["y"], name="rs", mode="cubic", cubic_coeff_a=float("nan"))],
     "node 'rs': cubic_coeff_a and roi must be finite"),
    ([node("Resize", ["x", "", "tiny"], ["y"], name="rs", mode="linear", antialias=1)],
     "antialias: a downscale by more than 32768"),
    ([node("AveragePool", ["x"], ["y"], name="ap", kernel_shape=[2, 2], dilations=[2, 2])],
     "average pooling with dilations"),
    ([node("Shape", ["x"], ["s"]), node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
      node("Mul", ["x", "x"], ["m"]), node("Clip", ["x", "m"], ["y"], name="clip")], "must be a constant"),
    ([node("MaxPool", ["x"], ["y", "idx"], name="mp", kernel_shape=[2, 2]), node("Relu", ["idx"], ["z"])],
     "output 1 ('idx') is used"),
    ([node("Dropout", ["x"], ["y"], name="dp", is_test=0)], "training-mode dropout"),
    ([node("Dropout", ["x", "half", "true"], ["y"], name="dp")], "training-mode dropout"),
    ([node("Pad", ["x", "pads"], ["y"], name="pd", mode="wrap")], "pad mode 'wrap'"),
    ([node("Relu", ["x"], ["r"]), node("Det", ["r"], ["d"], name="det1"), node("Det", ["d"], ["y"], name="det2")],
     "unsupported ONNX operator: Det ×2 (opset 13; first node: 'det1')"),
])
def test_unsupported_graphs_raise_and_write_nothing(nodes, message, tmp_path):
    inits = {"sc": np.array([1, 1, 2, 2], np.float32), "pads": np.zeros(8, np.int64),
             "tiny": np.array([1, 1, 1e-6, 1], np.float32), "half": np.array(0.5, np.float32),
             "true": np.array(True)}
    model = make_model(nodes, {"x": (1, 2, 4, 4)}, [nodes[-1].output[0]], inits, 13)
    out = tmp_path / "m.atrous"
    with pytest.raises(ConversionError) as info:
        convert(model, str(out))
    assert message in str(info.value)
    assert os.listdir(tmp_path) == []


def test_unnamed_node_is_described_by_its_output():
    model = make_model([node("Hardmax", ["x"], ["hardmax_out"])], {"x": (1, 2)}, ["hardmax_out"])
    with pytest.raises(ConversionError, match="first node: 'hardmax_out'\\)"):
        convert_to_model(model)


def test_non_float_input_is_rejected():
    graph = helper.make_graph([node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ConversionError, match="'x'.*FLOAT16"):
        convert_to_model(model)


def test_intermediate_shapes_are_recorded():
    model, _ = conv_bn_model()
    ir = convert_to_model(model)
    assert {t.name: t.shape for t in ir.tensors if not t.is_constant} == \
        {"x": (1, 6, 7, 8), "bn": (1, 6, 7, 8), "y": (1, 6, 7, 8)}
