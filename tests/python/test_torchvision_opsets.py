"""Small torchvision exports at opsets 11, 13 and 17 (the Resize chain and HardSwish/HardSigmoid
spellings change between them) through the converter and `atrous run`, compared with PyTorch."""
import pytest

from run_conformance import Runner

CASES = [("mobilenet_v3_small", (64, 96)), ("lraspp_mobilenet_v3_large", (65, 97))]


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("name, size", CASES, ids=[c[0] for c in CASES])
def test_opset(name, size, opset, atrous_bin, workdir):
    result = Runner(atrous_bin, workdir, opset=opset).run_case(name, size)
    print(result.line())
    assert result.passed, result.line()


@pytest.mark.parametrize("name, size", CASES, ids=[c[0] for c in CASES])
def test_export_with_torch_folding(name, size, atrous_bin, workdir):
    """torch.onnx.export's own BN folding (TrainingMode.EVAL) leaves Identity-shared initializers."""
    result = Runner(atrous_bin, workdir, opset=13, torch_folds_bn=True).run_case(name, size)
    assert result.passed, result.line()


@pytest.mark.parametrize("name, size", CASES, ids=[c[0] for c in CASES])
def test_unfolded_batch_norm_runs_in_the_runtime(name, size, atrous_bin, workdir):
    """Files converted with --no-fold keep batch_norm nodes; the runtime folds or runs them."""
    result = Runner(atrous_bin, workdir, opset=17, converter_folds_bn=False).run_case(name, size)
    assert result.passed, result.line()
