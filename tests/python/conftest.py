"""Fixtures shared by the converter tests.

The tests that execute converted models need the C++ `atrous` binary: $ATROUS_BIN, or
<repo>/build/atrous. When it is missing those tests FAIL (they are the point of the suite).
The TFLite, segment and eval-agreement tests also need the real models, photos and COCO ground
truth bundled in tests/assets (sources and licences in tests/assets/NOTICE.md); a missing file is
a failure, never a skip.
$ATROUS_BACKEND, when set, is passed as `atrous run --backend`.
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "conformance"))
sys.path.insert(0, HERE)
try:
    import atrous_convert  # noqa: F401  (pip-installed)
except ImportError:
    sys.path.insert(0, os.path.join(REPO_ROOT, "weights_converter"))

from atrous_cli import default_binary, run_atrous  # noqa: E402
from atrous_convert.reader import read_model  # noqa: E402


@pytest.fixture(scope="session")
def atrous_bin():
    path = default_binary()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"atrous binary not found at {path}: build the project into <repo>/build "
                    "or point ATROUS_BIN at it", pytrace=False)
    return path


@pytest.fixture(scope="session")
def test_assets():
    """<repo>/tests/assets (models/, images/, coco_panoptic/): real TFLite models, photos and
    COCO panoptic ground truth, part of the repository."""
    path = os.path.join(REPO_ROOT, "tests", "assets")
    missing = [d for d in ("models", "images", "coco_panoptic") if not os.path.isdir(os.path.join(path, d))]
    if missing:
        pytest.fail(f"bundled test assets missing in {path}: {', '.join(missing)}", pytrace=False)
    return path


@pytest.fixture
def workdir(tmp_path):
    return str(tmp_path)


@pytest.fixture
def atrous(atrous_bin, tmp_path):
    """run(model_path, {input name: array}) -> {output name: array} via `atrous run`."""
    runs = [0]

    def run(model_path, inputs, backend=None):
        runs[0] += 1
        names = [t.name for t in (lambda m: [m.tensors[i] for i in m.outputs])(read_model(model_path))]
        return run_atrous(atrous_bin, model_path, inputs, names, str(tmp_path / f"run{runs[0]}"),
                          backend=backend or os.environ.get("ATROUS_BACKEND") or None)
    return run
