#!/usr/bin/env python3
"""A corpus of real architectures through atrous, checked against ONNX Runtime (issue #16, item 3).

Every model of the corpus — timm CNNs (random weights, `pretrained=False`) and every torchvision
classification and segmentation model — is built in eval mode with every BatchNorm's statistics
randomized (tests/conformance/torchvision_models.py), exported with torch.onnx.export (static
shapes, BatchNorm kept for the converter to fold), converted with atrous_convert, run by
`atrous run` on the CPU backend, and compared with ONNX Runtime on the same N(0, 1) input. A
model matches when every output's relative L2 error ‖atrous − ort‖₂ / ‖ort‖₂ is at most 1e-5.

A model that does not match gets one status, the first stage that failed:
  build      the model could not be constructed
  export     torch.onnx.export refused it
  convert    atrous_convert refused it (the unsupported ops and their counts are recorded)
  reference  ONNX Runtime could not run the exported file
  runtime    `atrous run` failed
  mismatch   it ran, but an output's relative L2 error is above 1e-5 (then both atrous and ONNX
             Runtime are also compared with PyTorch's output in float64, which tells an
             ill-conditioned random-weight net from a wrong result)

Results go to DIR/results.json (one entry per model, written after each model, so an interrupted
run resumes where it stopped) and DIR/summary.md; the .onnx exports are cached and reused, one
folder per model (DIR/onnx/SOURCE/MODEL_HxW/). Everything runs on one thread (torch, ONNX Runtime
and atrous) so that the corpus can run beside other work. Example:

    python bench/model_corpus.py --source timm --models resnet18,mobilenetv3_small_050
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "conformance"))
from atrous_cli import default_binary, relative_l2, run_atrous  # noqa: E402

try:
    import atrous_convert  # noqa: F401  (pip-installed)
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, os.path.join(REPO_ROOT, "weights_converter"))
from atrous_convert import convert  # noqa: E402
from atrous_convert.errors import ConversionError  # noqa: E402

TOLERANCE = 1e-5
OPSET = 17
DEFAULT_SIZE = (96, 96)

# The smallest members of each timm CNN family (and the CNN-like hybrids), one or a few per family
# so that every block type appears: residual/bottleneck variants, squeeze-excite and its relatives
# (ECA, GC, selective kernel, split attention), depthwise and inverted-residual nets (NAS searched,
# TF "same" padding, CondConv, mixed kernels), re-parameterizable nets, dense/dual-path/aggregated
# nets, normalizer-free nets, ConvNeXt-style and MetaFormer-style nets.
TIMM_MODELS = tuple("""
resnet10t resnet14t resnet18 resnet18d resnet26 resnet26d resnet26t resnet34 resnet34d resnet50
resnet50d resnet50_gn resnetaa34d resnetblur18 resnetrs50 ecaresnet26t ecaresnetlight seresnet18
seresnext26d_32x4d seresnext26t_32x4d resnext26ts wide_resnet50_2 skresnet18 skresnet34
skresnext50_32x4d resnetv2_18 resnetv2_18d resnetv2_50d_gn resnetv2_50d_frn resnetv2_50d_evos
resnetv2_50x1_bit regnetx_002 regnetx_004 regnety_002 regnety_004 regnetz_005 regnetz_b16
regnetv_040 gernet_s repvgg_a0 repvgg_b0 mobileone_s0 resnet32ts resnet33ts eca_resnet33ts
gcresnet33ts seresnet33ts eca_resnext26ts gcresnext26ts bat_resnext26ts efficientnet_b0
efficientnet_lite0 efficientnet_es efficientnet_em efficientnet_el efficientnet_cc_b0_4e
efficientnet_b0_gn efficientnet_blur_b0 efficientnetv2_rw_t tf_efficientnet_b0 tf_efficientnet_lite0
tf_efficientnetv2_b0 mixnet_s mixnet_m tf_mixnet_s mnasnet_small mnasnet_050 semnasnet_050
spnasnet_100 fbnetc_100 mobilenetv1_100 mobilenetv2_050 mobilenetv2_100 mobilenetv2_110d tinynet_a
tinynet_e mobilenetv3_small_050 mobilenetv3_small_100 mobilenetv3_large_075 mobilenetv3_rw
tf_mobilenetv3_small_minimal_100 fbnetv3_b lcnet_035 lcnet_050 mobilenetv4_conv_small
mobilenetv4_conv_medium mobilenetv4_hybrid_medium ghostnet_050 ghostnetv2_100 ghostnetv3_050
repghostnet_050 hardcorenas_a densenet121 densenetblur121d dla34 dla46_c dla46x_c dla60x_c
dla60_res2net dpn48b dpn68 hrnet_w18_small hrnet_w18_small_v2 rexnet_100 rexnetr_100 vgg11 vgg11_bn
convnext_atto convnext_zepto_rms convnextv2_atto cspresnet50 cs3darknet_s cs3darknet_focus_s
darknet17 cspnext_tiny res2net50_14w_8s res2next50 resnest14d resnest26d selecsls42b
legacy_seresnet18 legacy_seresnext26_32x4d tresnet_m ese_vovnet19b_slim_dw ese_vovnet19b_dw
vovnet39a xception41 legacy_xception inception_v3 inception_v4 inception_resnet_v2 nf_regnet_b0
nf_resnet26 eca_nfnet_l0 hgnet_tiny hgnetv2_b0 repvit_m0_9 fasternet_t0 starnet_s050
inception_next_atto rdnet_tiny mambaout_femto poolformer_s12 convformer_s18 lcnetv2_small
efficientvit_m0 cpubone_nano
""".split())

# Inputs other than DEFAULT_SIZE: models whose graph is built for one resolution.
SIZES = {("torchvision", name): (224, 224) for name in
         ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "maxvit_t")}
SIZES.update({("timm", "efficientvit_m0"): (224, 224), ("timm", "bat_resnext26ts"): (256, 256)})
# VGG and AlexNet heads pool adaptively to 7×7 (6×6) cells, which torch.onnx exports only from a
# feature map that is a multiple of it: their ImageNet size.
SIZES.update({(source, name): (224, 224) for source, name in (
    ("timm", "vgg11"), ("timm", "vgg11_bn"), ("torchvision", "alexnet"), ("torchvision", "vgg11"),
    ("torchvision", "vgg11_bn"), ("torchvision", "vgg13"), ("torchvision", "vgg13_bn"),
    ("torchvision", "vgg16"), ("torchvision", "vgg16_bn"), ("torchvision", "vgg19"),
    ("torchvision", "vgg19_bn"))})


def torchvision_models() -> Tuple[str, ...]:
    import torchvision
    return tuple(torchvision.models.list_models(module=torchvision.models)
                 + torchvision.models.list_models(module=torchvision.models.segmentation))


def build(source: str, name: str, seed: int):
    """The model in eval mode with random weights and randomized BatchNorm statistics."""
    import torch
    from torchvision_models import SegmentationOutput, randomize_batch_norm
    torch.manual_seed(seed)
    if source == "timm":
        import timm
        model = timm.create_model(name, pretrained=False, exportable=True)
    else:
        import torchvision
        if name in torchvision.models.list_models(module=torchvision.models.segmentation):
            model = SegmentationOutput(torchvision.models.get_model(name, weights=None,
                                                                    weights_backbone=None))
        else:
            model = torchvision.models.get_model(name, weights=None)
    generator = torch.Generator().manual_seed(seed + 1)
    randomize_batch_norm(model, generator)
    randomize_zero_weights(model, generator)
    return model.eval()


def randomize_zero_weights(model, generator) -> List[str]:
    """Gives N(0, 0.02²) values to every parameter other than a bias that is initialized to all
    zeros (torchvision's ViT classifier, zero-initialized gains): with them the output would not
    depend on the input, and any two runtimes would agree. Returns their names."""
    import torch
    names = []
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.is_floating_point() and not name.endswith("bias") and not parameter.any():
                parameter.normal_(0.0, 0.02, generator=generator)
                names.append(name)
    return names


def export(model, path: str, size: Tuple[int, int], result: dict) -> None:
    """torch.onnx.export under torch.no_grad(); retried with autograd on when that fails with
    nn.MultiheadAttention's inference fast path (aten::_native_multi_head_attention, which torch
    1.13 cannot export; the fast path is taken only without autograd)."""
    import torch
    tmp = path + ".part"

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, torch.zeros(1, 3, *size), tmp, opset_version=OPSET,
                              do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE,
                              input_names=["input"])
    try:
        with torch.no_grad():
            run()
    except Exception as error:
        if "_native_multi_head_attention" in str(error):
            run()
            result["export"] = "with autograd on (MultiheadAttention's fast path has no ONNX export)"
        elif "'aten::zero'" in str(error):
            # Swin V2 zeroes a slice of its qkv bias in place (Tensor.zero_), which torch 1.13
            # has no ONNX symbolic for; x · 0 is one (the bias is a constant, so it folds).
            torch.onnx.register_custom_op_symbolic(
                "aten::zero", lambda g, x: g.op("Mul", x, g.op("Constant", value_t=torch.tensor(0.0))),
                OPSET)
            with torch.no_grad():
                run()
            result["export"] = "with a symbolic for aten::zero (x · 0) registered"
        else:
            raise
    os.replace(tmp, path)


def float64_output(source: str, name: str, seed: int, x: np.ndarray) -> np.ndarray:
    """The model's output computed by PyTorch in float64: the yardstick when two float32
    implementations disagree (a random-weight net can amplify rounding differences)."""
    import torch
    model = build(source, name, seed).double()
    with torch.no_grad():
        return model(torch.from_numpy(x).double()).numpy()


_ORT_CHILD = """
import sys, numpy as np, onnxruntime
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = options.inter_op_num_threads = 1
if sys.argv[4] == "unoptimized":
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
session = onnxruntime.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
feeds = dict(np.load(sys.argv[2]))
names = [o.name for o in session.get_outputs()]
np.savez(sys.argv[3], **dict(zip(names, session.run(names, feeds))))
"""


def run_onnxruntime(path: str, feeds: Dict[str, np.ndarray], work_dir: str,
                    result: Optional[dict] = None) -> Dict[str, np.ndarray]:
    """ONNX Runtime's outputs, computed in a child process: ONNX Runtime 1.32's graph optimizer
    crashes on a few of these graphs (a segmentation fault on timm's convformer_s18), so a crashed
    run is repeated with its graph optimizations off (noted in `result`)."""
    os.makedirs(work_dir, exist_ok=True)
    inputs, outputs = os.path.join(work_dir, "ort_inputs.npz"), os.path.join(work_dir, "ort_outputs.npz")
    np.savez(inputs, **feeds)
    for level in ("default", "unoptimized"):
        child = subprocess.run([sys.executable, "-c", _ORT_CHILD, path, inputs, outputs, level],
                               capture_output=True, text=True)
        if child.returncode >= 0:
            break
        if result is not None:
            result["onnxruntime"] = (f"died with signal {signal.Signals(-child.returncode).name} with its "
                                     "graph optimizations; run with them disabled")
    if child.returncode != 0:
        lines = child.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"ONNX Runtime exited with status {child.returncode}")
    with np.load(outputs) as data:
        return {name: data[name] for name in data.files}


def unsupported_ops(message: str) -> Dict[str, int]:
    """{op: count} from the converter's "unsupported ONNX operators: A ×2, B ×1 (...)" message."""
    match = re.search(r"unsupported ONNX operators?: (.*?) \(opset", message)
    if not match:
        return {}
    return {op: int(count) for op, count in re.findall(r"([\w.]+) ×(\d+)", match.group(1))}


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    # `atrous run` failures: the command line first, the tool's own message after it
    line = lines[-1] if lines and text.startswith("`") else (lines[0] if lines else "")
    return f"{type(error).__name__}: {line}"[:300]


def run_model(source: str, name: str, work_dir: str, atrous: str, seed: int = 0,
              size: Optional[Tuple[int, int]] = None) -> dict:
    """Builds, exports (or reuses the cached export), converts, runs and compares one model."""
    size = size or SIZES.get((source, name), DEFAULT_SIZE)
    result = {"source": source, "model": name, "input": [1, 3, *size], "opset": OPSET}
    # One folder per model: an export over 2 GB keeps its weights in files named after the tensors
    folder = os.path.join(work_dir, "onnx", source, f"{name}_{size[0]}x{size[1]}")
    os.makedirs(folder, exist_ok=True)
    onnx_path, atrous_path, run_dir = (os.path.join(folder, f) for f in ("model.onnx", "model.atrous", "run"))
    start = time.time()
    stage = "build"
    try:
        if not os.path.exists(onnx_path):
            model = build(source, name, seed)
            stage = "export"
            export(model, onnx_path, size, result)
            del model
        stage = "convert"
        try:
            ir = convert(onnx_path, atrous_path)
        except ConversionError as error:
            result["unsupported"] = unsupported_ops(str(error))
            raise
        result["nodes"] = len(ir.nodes)
        x = np.random.default_rng(seed).standard_normal((1, 3, *size)).astype(np.float32)
        stage = "reference"
        expected = run_onnxruntime(onnx_path, {"input": x}, run_dir, result)
        stage = "runtime"
        actual = run_atrous(atrous, atrous_path, {"input": x}, list(expected),
                            run_dir, backend="cpu", threads=1)
        stage = "mismatch"
        if all(not np.any(want) for want in expected.values()):
            raise ValueError("ONNX Runtime's outputs are all zero: the comparison would prove nothing")
        errors = {}
        for output, want in expected.items():
            got = actual[output]
            if got.shape != want.shape:
                raise ValueError(f"output '{output}': shape {got.shape} != ONNX Runtime's {want.shape}")
            errors[output] = relative_l2(got, want) if want.dtype.kind == "f" else \
                float(np.mean(got != want))
        result["rel_l2"] = max(errors.values())
        result["status"] = "matched" if result["rel_l2"] <= TOLERANCE else "mismatch"
        if result["status"] == "mismatch":
            result["reason"] = f"relative L2 {result['rel_l2']:.3g} > {TOLERANCE:g}"
            if len(expected) == 1:
                exact = float64_output(source, name, seed, x)
                result["ort_vs_float64"] = relative_l2(next(iter(expected.values())), exact)
                result["atrous_vs_float64"] = relative_l2(next(iter(actual.values())), exact)
                result["reason"] += (f"; against PyTorch in float64: atrous {result['atrous_vs_float64']:.3g}, "
                                     f"ONNX Runtime {result['ort_vs_float64']:.3g}")
    except Exception as error:  # recorded; the corpus goes on with the next model
        result["status"] = stage
        result["reason"] = first_line(error)
        if stage in ("build", "export"):
            result["traceback"] = traceback.format_exc(limit=-3)
    finally:
        if os.path.exists(atrous_path):
            os.unlink(atrous_path)
        shutil.rmtree(run_dir, ignore_errors=True)
    result["seconds"] = round(time.time() - start, 1)
    return result


STATUSES = ("matched", "mismatch", "runtime", "reference", "convert", "export", "build")


def summary(results: List[dict]) -> str:
    """The Markdown summary: counts per source, then every model that does not match."""
    lines = ["| source | total | exported | converted | matched |", "|---|---:|---:|---:|---:|"]
    for source in ("timm", "torchvision", None):
        rows = [r for r in results if source is None or r["source"] == source]
        if not rows:
            continue
        exported = sum(r["status"] not in ("build", "export") for r in rows)
        converted = sum(r["status"] in ("matched", "mismatch", "runtime", "reference") for r in rows)
        matched = sum(r["status"] == "matched" for r in rows)
        lines.append(f"| {source or '**all**'} | {len(rows)} | {exported} | {converted} | "
                     f"{matched} ({100.0 * matched / len(rows):.1f} %) |")
    counts = collections.Counter(r["status"] for r in results)
    lines += ["", "Status counts: " + ", ".join(f"{s} {counts[s]}" for s in STATUSES if counts[s])]
    ops = collections.Counter()
    for r in results:
        for op in r.get("unsupported", {}):
            ops[op] += 1
    if ops:
        lines += ["", "Unsupported ops (models refused for each): "
                  + ", ".join(f"{op} {n}" for op, n in ops.most_common())]
    failing = [r for r in results if r["status"] != "matched"]
    if failing:
        lines += ["", "| source | model | status | reason |", "|---|---|---|---|"]
        for r in sorted(failing, key=lambda r: (STATUSES.index(r["status"]), r["source"], r["model"])):
            reason = r.get("reason", "").replace("|", "\\|")
            if r.get("unsupported"):
                reason = "unsupported: " + ", ".join(f"{op} ×{n}" for op, n in r["unsupported"].items())
            lines.append(f"| {r['source']} | {r['model']} | {r['status']} | {reason} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=("timm", "torchvision", "all"), default="all")
    parser.add_argument("--models", help="comma-separated subset (default: the whole corpus of --source)")
    parser.add_argument("--workdir", default=os.path.join(REPO_ROOT, "build", "model_corpus"),
                        help="cache of exports and the results (default: build/model_corpus)")
    parser.add_argument("--atrous", default=default_binary(), help="the atrous binary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rerun", choices=("none", "failed", "all"), default="none",
                        help="models already in results.json: skip them (none), rerun those that did "
                             "not match, or rerun all (exports stay cached; delete DIR/onnx to redo them)")
    parser.add_argument("--list", action="store_true", help="print the corpus and exit")
    args = parser.parse_args(argv)

    corpus = []
    if args.source in ("timm", "all"):
        corpus += [("timm", n) for n in TIMM_MODELS]
    if args.source in ("torchvision", "all"):
        corpus += [("torchvision", n) for n in torchvision_models()]
    if args.models:
        wanted = [n.strip() for n in args.models.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {n for _, n in corpus})
        if unknown:
            parser.error(f"not in the corpus of --source {args.source}: {', '.join(unknown)}")
        corpus = [(s, n) for s, n in corpus if n in wanted]
    if args.list:
        print("\n".join(f"{s} {n}" for s, n in corpus))
        return 0

    import torch
    torch.set_num_threads(1)
    os.makedirs(args.workdir, exist_ok=True)
    results_path = os.path.join(args.workdir, "results.json")
    results: Dict[str, dict] = {}
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = {f"{r['source']}/{r['model']}": r for r in json.load(f)}
    for source, name in corpus:
        key = f"{source}/{name}"
        previous = results.get(key)
        if previous and (args.rerun == "none" or (args.rerun == "failed" and previous["status"] == "matched")):
            continue
        result = run_model(source, name, args.workdir, args.atrous, args.seed)
        results[key] = result
        print(f"{key:<45} {result['status']:<9} "
              + (f"rel_l2={result['rel_l2']:.2e} " if "rel_l2" in result else "")
              + f"({result['seconds']} s) {result.get('reason', '') if result['status'] != 'matched' else ''}",
              flush=True)
        with open(results_path + ".part", "w") as f:
            json.dump(sorted(results.values(), key=lambda r: (r["source"], r["model"])), f, indent=1)
        os.replace(results_path + ".part", results_path)
    chosen = [results[f"{s}/{n}"] for s, n in corpus if f"{s}/{n}" in results]
    text = summary(sorted(results.values(), key=lambda r: (r["source"], r["model"])))  # all so far
    with open(os.path.join(args.workdir, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if all(r["status"] == "matched" for r in chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
