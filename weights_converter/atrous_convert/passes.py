"""IR passes the converter runs after import: BatchNorm folding and dead-code removal."""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from .writer import Model, Node, Tensor


def _unique_name(base: str, names: set) -> str:
    name, n = base, 1
    while name in names:
        name = f"{base}_{n}"
        n += 1
    names.add(name)
    return name


def fold_batch_norm(model: Model) -> int:
    """Merges each `batch_norm` whose input is a `conv` output used only by it into the conv.

    With s = scale / sqrt(var + eps), computed in float64 and rounded once to float32:
    w' = w * s (per output channel), b' = (b - mean) * s + bias. Returns the number folded.
    """
    producer: Dict[int, Node] = {}
    uses: Dict[int, int] = {}
    for node in model.nodes:
        for index in node.outputs:
            producer[index] = node
        for index in node.inputs:
            if index is not None:
                uses[index] = uses.get(index, 0) + 1
    for index in model.outputs:
        uses[index] = uses.get(index, 0) + 1
    names = {t.name for t in model.tensors}
    tensors = model.tensors
    kept: List[Node] = []
    folded = 0
    for node in model.nodes:
        conv = producer.get(node.inputs[0]) if node.op == "batch_norm" else None
        params = node.inputs[1:5] if conv is not None else []
        if (conv is None or conv.op != "conv" or uses.get(node.inputs[0], 0) != 1
                or "activation" in conv.attributes
                or any(i is None or not tensors[i].is_constant for i in params)
                or not tensors[conv.inputs[1]].is_constant
                or (len(conv.inputs) > 2 and conv.inputs[2] is not None
                    and not tensors[conv.inputs[2]].is_constant)):
            kept.append(node)
            continue
        scale, bias, mean, var = (tensors[i].data.astype(np.float64).reshape(-1) for i in params)
        epsilon = node.attributes["epsilon"].value if "epsilon" in node.attributes else 1e-5
        weight = tensors[conv.inputs[1]].data.astype(np.float64)
        if not (len(scale) == len(bias) == len(mean) == len(var) == weight.shape[0]):
            kept.append(node)  # malformed; leave it for the runtime to reject with context
            continue
        conv_bias = np.zeros(weight.shape[0])
        if len(conv.inputs) > 2 and conv.inputs[2] is not None:
            conv_bias = tensors[conv.inputs[2]].data.astype(np.float64).reshape(-1)
        factor = scale / np.sqrt(var + epsilon)
        new_weight = (weight * factor[:, None, None, None]).astype(np.float32)
        new_bias = ((conv_bias - mean) * factor + bias).astype(np.float32)
        base = conv.name or tensors[conv.outputs[0]].name
        w_index = model.add_tensor(Tensor(_unique_name(f"{base}/weight_bn_folded", names), "float32",
                                          new_weight.shape, new_weight))
        b_index = model.add_tensor(Tensor(_unique_name(f"{base}/bias_bn_folded", names), "float32",
                                          new_bias.shape, new_bias))
        conv.inputs = [conv.inputs[0], w_index, b_index]
        conv.outputs = list(node.outputs)  # the BN output keeps its name; the conv output dies
        folded += 1
    model.nodes = kept
    return folded


def remove_dead_code(model: Model) -> Model:
    """Drops nodes that no graph output depends on and tensors nothing refers to; renumbers."""
    needed = set(model.outputs)
    live_nodes = []
    for node in reversed(model.nodes):
        if any(i in needed for i in node.outputs):
            live_nodes.append(node)
            needed.update(i for i in node.inputs if i is not None)
    live_nodes.reverse()
    keep = sorted(needed | set(model.inputs) | {i for n in live_nodes for i in n.outputs})
    remap = {old: new for new, old in enumerate(keep)}
    out = Model(tensors=[model.tensors[i] for i in keep], inputs=[remap[i] for i in model.inputs],
                outputs=[remap[i] for i in model.outputs], metadata=dict(model.metadata))
    for node in live_nodes:
        out.nodes.append(Node(node.op, node.name, [None if i is None else remap[i] for i in node.inputs],
                              [remap[i] for i in node.outputs], dict(node.attributes)))
    return out
