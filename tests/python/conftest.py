"""Fixtures shared by the converter tests.

The tests that execute converted models need the C++ `atrous` binary: $ATROUS_BIN, or
<repo>/build/atrous. When it is missing those tests FAIL (they are the point of the suite).
The TFLite tests also need the shared real models and images, `<repo>/../shared/assets` (the same
place in CI); they fail, not skip, without them.
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
def shared_assets():
    """<repo>/../shared/assets (models/, images/): real TFLite models and photos."""
    path = os.path.join(os.path.dirname(REPO_ROOT), "shared", "assets")
    if not (os.path.isdir(os.path.join(path, "models")) and os.path.isdir(os.path.join(path, "images"))):
        pytest.fail(f"shared assets not found at {path} (expected models/ and images/ there)", pytrace=False)
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
