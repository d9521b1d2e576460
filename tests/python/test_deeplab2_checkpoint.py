"""`atrous-convert CKPT --deeplab2-config CONFIG` against DeepLab2's own outputs, without TensorFlow.

The fixture (tests/assets/deeplab2/) is a reduced-width Panoptic-DeepLab (MobileNetV3-Small,
output stride 32, 33×65 crop: `mnv3s_tiny.textproto`) built, randomly initialised and
checkpointed by DeepLab2's code, with DeepLab2's outputs on one photo: semantic logits, center
heatmap, offsets (after DeepLab2's resize and offset rescale) and its panoptic post-processing.
Regenerate with `models/deeplab2/prove_deeplab2.py --tf-only` (needs TensorFlow; see
models/deeplab2/README.md). Here the converter reads the TF-written checkpoint, and `atrous run` /
`atrous segment` must agree with DeepLab2 within the issue's bars (relative L2 ≤ 1e-5 per head,
≥ 99.9 % of panoptic pixels equal). The error cases use checkpoints written by tests/python/tf_bundle.py.
"""
import contextlib
import io
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from atrous_convert import cli
from atrous_convert.errors import ConversionError
from atrous_convert.reader import read_model
from atrous_convert.tf_checkpoint import Checkpoint
from atrous_convert import textproto
from tf_bundle import entry_proto, write_bundle

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(os.path.dirname(HERE), "assets", "deeplab2")
CONFIG = os.path.join(FIXTURE, "mnv3s_tiny.textproto")
DATA = os.path.join(FIXTURE, "mnv3s_tiny")
CHECKPOINT = os.path.join(DATA, "ckpt")
REL_L2_TOLERANCE = 1e-5
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def relative_l2(actual, expected):
    actual, expected = actual.astype(np.float64), expected.astype(np.float64)
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def convert(checkpoint, config, out):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main([str(checkpoint), "--deeplab2-config", str(config), "-o", str(out)])
    return code, err.getvalue()


def expect_error(checkpoint, config, out, *fragments):
    code, stderr = convert(checkpoint, config, out)
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1, stderr
    assert lines[0].startswith("atrous-convert: error: "), stderr
    assert "internal error" not in lines[0], stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr
    assert not os.path.exists(out)
    return lines[0]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("deeplab2") / "model.atrous"
    code, stderr = convert(CHECKPOINT, CONFIG, out)
    assert code == 0, stderr
    return out


@pytest.fixture(scope="module")
def fixture_tensors():
    checkpoint = Checkpoint(CHECKPOINT)
    return {name: checkpoint.read(name) for name, entry in checkpoint.entries.items()
            if entry.dtype != 7}  # not the (string) object graph


# ---------------------------------------------------------------------------------------------
# Against DeepLab2


def test_outputs_match_deeplab2(converted, atrous_bin, tmp_path):
    image = np.asarray(Image.open(os.path.join(DATA, "image.png")).convert("RGB"))
    # DeepLab2's own normalization arithmetic (float32 x / 127.5 − 1).
    x = (image.astype(np.float32) / np.float32(127.5) - np.float32(1)).transpose(2, 0, 1)[None]
    np.save(tmp_path / "input.npy", np.ascontiguousarray(x))
    backend = os.environ.get("ATROUS_BACKEND", "cpu")
    subprocess.run([atrous_bin, "run", str(converted), "--input", str(tmp_path / "input.npy"),
                    "--output-dir", str(tmp_path / "run"), "--backend", backend],
                   check=True, capture_output=True)
    for key in ("semantic", "center", "offset"):
        actual = np.load(tmp_path / "run" / f"{key}.npy")[0]
        expected = np.load(os.path.join(DATA, f"deeplab2_{key}.npy"))
        assert actual.shape == expected.shape, key
        assert relative_l2(actual, expected) <= REL_L2_TOLERANCE, key


def test_segment_matches_deeplab2_post_processing(converted, atrous_bin, tmp_path):
    subprocess.run([atrous_bin, "segment", str(converted), os.path.join(DATA, "image.png"),
                    "--output-dir", str(tmp_path)], check=True, capture_output=True)
    rgb = np.asarray(Image.open(tmp_path / "panoptic" / "image.png")).astype(np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    panoptic = np.where(ids == 0, 255 * 1000, ids - 1)
    expected = np.load(os.path.join(DATA, "deeplab2_panoptic.npy"))
    assert np.mean(panoptic == expected) >= 0.999
    # The fixture is informative: several classes, stuff and things, several instances.
    assert len(np.unique(expected)) >= 5 and np.sum(np.unique(expected) % 1000 > 0) >= 2


def test_metadata_from_config(converted, atrous_bin):
    result = subprocess.run([atrous_bin, "info", str(converted), "--json"], check=True,
                            capture_output=True, text=True)
    metadata = json.loads(result.stdout)["metadata"]
    assert metadata["task"] == "panoptic"
    assert metadata["labels"][0] == "road" and len(metadata["labels"]) == 19
    assert metadata["thing_classes"] == list(range(11, 19))
    assert metadata["input_size"] == [33, 65]
    assert metadata["input_mean"] == [127.5] * 3 and metadata["input_std"] == [127.5] * 3
    assert metadata["label_divisor"] == 1000 and metadata["void_label"] == 255
    assert metadata["nms_kernel"] == 3 and metadata["top_k"] == 400
    assert metadata["stuff_area_limit"] == 16 and metadata["center_threshold"] == pytest.approx(0.1)


def test_every_variable_mapped(fixture_tensors, converted):
    """One conv per checkpoint kernel; every BatchNorm folded into its conv (no batch_norm node
    left); the number of constant values is that of the kernels and biases after folding."""
    model = read_model(str(converted))
    kernels = {n: a for n, a in fixture_tensors.items() if n.endswith("kernel" + SUFFIX)}
    convs = [node for node in model.nodes if node.op == "conv"]
    assert len(convs) == len(kernels)
    assert not [node for node in model.nodes if node.op == "batch_norm"]
    # Each conv has a bias after folding: its output channels.
    expected = sum(a.size + a.shape[-1 if "depthwise" not in n else -2] for n, a in kernels.items())
    constants = sum(t.data.size for t in model.tensors if t.data is not None)
    assert constants == expected + 2  # + the offset rescale factors


# ---------------------------------------------------------------------------------------------
# The reader and the parser


def test_reader_round_trip(tmp_path, fixture_tensors):
    """Our test writer and TensorFlow's files read the same."""
    prefix = str(tmp_path / "copy")
    write_bundle(prefix, fixture_tensors)
    copy = Checkpoint(prefix)
    assert set(copy.entries) == set(fixture_tensors)
    for name, array in fixture_tensors.items():
        np.testing.assert_array_equal(copy.read(name), array)


def test_copied_checkpoint_converts(tmp_path, fixture_tensors):
    prefix = str(tmp_path / "copy")
    write_bundle(prefix, fixture_tensors)
    code, stderr = convert(prefix, CONFIG, tmp_path / "m.atrous")
    assert code == 0, stderr


def test_truncated_index(tmp_path):
    data = open(CHECKPOINT + ".index", "rb").read()
    for cut in (0, 10, 47, len(data) // 2, len(data) - 1):
        prefix = str(tmp_path / f"cut{cut}")
        with open(prefix + ".index", "wb") as f:
            f.write(data[:cut])
        shutil.copy(CHECKPOINT + ".data-00000-of-00001", prefix + ".data-00000-of-00001")
        expect_error(prefix, CONFIG, tmp_path / "m.atrous", "checkpoint index")


def test_corrupt_index_block(tmp_path):
    data = bytearray(open(CHECKPOINT + ".index", "rb").read())
    data[-48:-40] = b"\xff" * 8  # the footer's block handles
    prefix = str(tmp_path / "bad")
    open(prefix + ".index", "wb").write(bytes(data))
    expect_error(prefix, CONFIG, tmp_path / "m.atrous", "checkpoint index")


def test_truncated_data(tmp_path):
    prefix = str(tmp_path / "short")
    shutil.copy(CHECKPOINT + ".index", prefix + ".index")
    data = open(CHECKPOINT + ".data-00000-of-00001", "rb").read()
    open(prefix + ".data-00000-of-00001", "wb").write(data[:len(data) // 3])
    expect_error(prefix, CONFIG, tmp_path / "m.atrous", "truncated")


def test_missing_checkpoint(tmp_path):
    expect_error(tmp_path / "nothing", CONFIG, tmp_path / "m.atrous", "cannot read checkpoint")


def test_missing_variable(tmp_path, fixture_tensors):
    name = "encoder/_blocks/4/_conv2_bn_act/_batch_norm/moving_variance" + SUFFIX
    tensors = {k: v for k, v in fixture_tensors.items() if k != name}
    write_bundle(str(tmp_path / "ckpt"), tensors)
    expect_error(tmp_path / "ckpt", CONFIG, tmp_path / "m.atrous", "has no variable",
                 name[:-len(SUFFIX)])


def test_extra_variable(tmp_path, fixture_tensors):
    tensors = dict(fixture_tensors)
    tensors["semantic_decoder/_extra_conv/kernel" + SUFFIX] = np.zeros((1, 1, 2, 2), np.float32)
    write_bundle(str(tmp_path / "ckpt"), tensors)
    expect_error(tmp_path / "ckpt", CONFIG, tmp_path / "m.atrous", "does not use",
                 "semantic_decoder/_extra_conv/kernel")


def test_optimizer_state_is_ignored(tmp_path, fixture_tensors):
    """A training checkpoint also holds the step counter and the optimizer's variables."""
    tensors = dict(fixture_tensors)
    tensors["global_step" + SUFFIX] = np.array(5, np.int64)
    tensors["optimizer/iter" + SUFFIX] = np.array(5, np.int64)
    slot = "semantic_last_layer/kernel/.OPTIMIZER_SLOT/optimizer/m" + SUFFIX
    tensors[slot] = np.zeros((1, 1, 16, 19), np.float32)
    write_bundle(str(tmp_path / "ckpt"), tensors)
    code, stderr = convert(tmp_path / "ckpt", CONFIG, tmp_path / "m.atrous")
    assert code == 0, stderr


def test_wrong_shape(tmp_path, fixture_tensors):
    name = "semantic_last_layer/kernel" + SUFFIX
    tensors = dict(fixture_tensors)
    tensors[name] = np.zeros((1, 1, 16, 18), np.float32)
    write_bundle(str(tmp_path / "ckpt"), tensors)
    expect_error(tmp_path / "ckpt", CONFIG, tmp_path / "m.atrous", "semantic_last_layer/kernel",
                 "[1, 1, 16, 18]", "[1, 1, 16, 19]")


def test_entry_size_disagrees_with_shape(tmp_path, fixture_tensors):
    name = "semantic_last_layer/bias" + SUFFIX
    tensors = {k: v for k, v in fixture_tensors.items() if k != name}
    write_bundle(str(tmp_path / "ckpt"), tensors, {name: entry_proto(1, (19,), 0, 8)})
    expect_error(tmp_path / "ckpt", CONFIG, tmp_path / "m.atrous", "8 bytes for shape [19]")


def test_config_for_another_checkpoint(tmp_path):
    """The config must describe the checkpoint's network: other widths are a shape mismatch."""
    text = open(CONFIG).read().replace("head_channels: 16", "head_channels: 24")
    config = tmp_path / "other.textproto"
    config.write_text(text)
    expect_error(CHECKPOINT, config, tmp_path / "m.atrous", "shape")


@pytest.mark.parametrize("old,new,fragment", [
    ('name: "mobilenet_v3_small"', 'name: "xception_65"', "backbone.name"),
    ("decoder_channels: 16", 'decoder_channels: 16\n    decoder_conv_type: "standard_conv"',
     "decoder_conv_type"),
    ("stuff_area_limit: 16", "stuff_area_limit: 16\n  thing_area_limit: 4", "thing_area_limit"),
    ('dataset: "cityscapes_panoptic"', 'dataset: "my_dataset"', "my_dataset"),
    ("atrous_rates: 9", "atrous_rates: 9\n    atrous_rates: 12", "atrous_rates"),
    ("output_stride: 32", "output_stride: 32\n    backbone_layer_multiplier: 2",
     "backbone_layer_multiplier"),
    ("panoptic_deeplab {", "depth_head { output_channels: 1 }\n  panoptic_deeplab {", "depth_head"),
    ("semantic_head {", "semantic_head {\n      max_value_after_activation: 6", "max_value"),
    ("center_head {", "center_head {\n        head_conv_type: 'standard_conv'", "head_conv_type"),
])
def test_unsupported_config_values(tmp_path, old, new, fragment):
    text = open(CONFIG).read()
    assert old in text
    config = tmp_path / "bad.textproto"
    config.write_text(text.replace(old, new))
    message = expect_error(CHECKPOINT, config, tmp_path / "m.atrous", fragment)
    assert "config" in message


@pytest.mark.parametrize("text,fragment", [
    ("model_options { backbone { name: 'resnet50' }", "missing '}'"),
    ("model_options { backbone name: 'x' } }", "expected ':' or '{'"),
    ("a: \"unterminated", "unexpected character"),
    ("a: @", "unexpected character"),
    ("a: 'x\\q'", "unknown escape"),
    ("a: [1, 2", "expected ',' or ']'"),
    ("}", "expected a field name"),
])
def test_textproto_errors(text, fragment):
    with pytest.raises(ConversionError) as error:
        textproto.parse(text, "t")
    assert fragment in str(error.value)
    assert str(error.value).startswith("t:")


def test_textproto_values():
    message = textproto.parse("""
        # comment
        a: 1 a: -2  b: 0x10 c: 1.5e3 d: 'x' "y\\n" e: true f: ENUM_VALUE
        g { h: [1, 2, 3] i < j: "k" > }
        g: { h: 4 };
    """)
    assert message.all("a") == [1, -2] and message.last("b") == 16
    assert message.last("c") == 1500.0 and message.last("d") == "xy\n"
    assert message.last("e") is True and message.last("f") == "ENUM_VALUE"
    assert message.all("g")[0].all("h") == [1, 2, 3]
    assert message.all("g")[0].last("i").last("j") == "k"
    assert message.all("g")[1].last("h") == 4


def test_help_shows_the_flag():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "--deeplab2-config" in out.getvalue()


def test_output_stride_16_dilates_like_deeplab2(tmp_path):
    """DeepLab2's MobileNet rule: once the running stride reaches the output stride, a strided
    block runs at stride 1 and the blocks after it are dilated by that stride (kernels > 1 only).
    MobileNetV3-Small's last strided block (9) keeps rate 1; blocks 10 and 11 get rate 2."""
    config = tmp_path / "os16.textproto"
    config.write_text(open(CONFIG).read().replace("output_stride: 32", "output_stride: 16"))
    code, stderr = convert(CHECKPOINT, config, tmp_path / "os16.atrous")
    assert code == 0, stderr
    model = read_model(str(tmp_path / "os16.atrous"))
    convs = {node.name: node for node in model.nodes if node.op == "conv"}

    def geometry(block):
        node = convs[f"encoder/_blocks/{block}/_conv2_bn_act/conv"]
        return node.attributes["strides"].value, node.attributes["dilations"].value, \
            node.attributes["pads"].value

    assert geometry(4) == ([2, 2], [1, 1], [2, 2, 2, 2])
    assert geometry(9) == ([1, 1], [1, 1], [2, 2, 2, 2])
    assert geometry(10) == ([1, 1], [2, 2], [4, 4, 4, 4])
    assert geometry(11) == ([1, 1], [2, 2], [4, 4, 4, 4])
    semantic = next(t for t in model.tensors if t.name == "semantic")
    assert tuple(semantic.shape) == (1, 19, 33, 65)


# ---------------------------------------------------------------------------------------------
# The full-size Cityscapes networks: names and shapes of every variable DeepLab2's checkpoints
# hold (tests/assets/deeplab2/cityscapes_variables.json, listed from the checkpoints of the
# full-size proof, models/deeplab2/README.md). The values do not matter here (zeros): the test
# checks that the importer asks for exactly these variables with exactly these shapes.

CITYSCAPES_CONFIG = """
model_options {
  backbone { name: "%s" use_squeeze_and_excite: %s output_stride: 32 }
  decoder { feature_key: "res5" decoder_channels: 256 aspp_channels: 256
            atrous_rates: 3 atrous_rates: 6 atrous_rates: 9 }
  panoptic_deeplab {
    low_level { feature_key: "res3" channels_project: 64 }
    low_level { feature_key: "res2" channels_project: 32 }
    instance {
      low_level_override { feature_key: "res3" channels_project: 32 }
      low_level_override { feature_key: "res2" channels_project: 16 }
      instance_decoder_override { feature_key: "res5" decoder_channels: 128
                                  atrous_rates: 3 atrous_rates: 6 atrous_rates: 9 }
      center_head { output_channels: 1 head_channels: 32 }
      regression_head { output_channels: 2 head_channels: 32 }
    }
    semantic_head { output_channels: 19 head_channels: 256 }
  }
}
train_dataset_options { dataset: "cityscapes_panoptic" crop_size: 65 crop_size: 129 }
eval_dataset_options { dataset: "cityscapes_panoptic" crop_size: 65 crop_size: 129 }
evaluator_options { stuff_area_limit: 2048 nms_kernel: 13 }
"""


class _Entry:
    def __init__(self, shape):
        self.shape, self.dtype, self.dtype_name = tuple(shape), 1, "float32"


class _ZerosCheckpoint:
    prefix = "cityscapes"

    def __init__(self, variables):
        self.entries = {name + SUFFIX: _Entry(shape) for name, shape in variables.items()}

    def read(self, name):
        return np.zeros(self.entries[name].shape, np.float32)


@pytest.mark.parametrize("backbone", ["mobilenet_v3_large", "mobilenet_v3_small", "resnet50"])
def test_cityscapes_variable_names_and_shapes(tmp_path, backbone):
    from atrous_convert import deeplab2_import
    with open(os.path.join(FIXTURE, "cityscapes_variables.json")) as f:
        variables = json.load(f)[backbone]
    config = tmp_path / "cityscapes.textproto"
    config.write_text(CITYSCAPES_CONFIG % (backbone, "false" if backbone == "resnet50" else "true"))
    model = deeplab2_import.build(_ZerosCheckpoint(variables), deeplab2_import.Settings(str(config)),
                                  fold_batch_norm=False)
    assert model.mapped_variables == len(variables)
    kernels = [n for n in variables if n.endswith("kernel")]
    assert len([node for node in model.nodes if node.op == "conv"]) == len(kernels)
    # One variable fewer, or one of another shape, is refused.
    missing = dict(variables)
    del missing[kernels[len(kernels) // 2]]
    with pytest.raises(ConversionError, match="has no variable"):
        deeplab2_import.build(_ZerosCheckpoint(missing), deeplab2_import.Settings(str(config)))
