"""ONNX's own backend test cases (onnx_backend_cases.py): every case whose ops the converter
claims, converted and run on the reference and CPU backends, outputs compared as ONNX's runner
compares them (rtol 1e-3, atol 1e-7).

A case the converter refuses is reported as skipped with the refusal as its reason: it did not
run, so it does not pass. A case listed in onnx_backend_passing.txt must pass on both backends,
so a new refusal of a case that used to pass fails here too. `bench/onnx_conformance.py`
regenerates that list and the table in docs/OPS.md. The whole set runs by default (about a minute
on two cores); ATROUS_ONNX_CASES=<substring> narrows it to the cases whose name contains it.
"""
import os

import pytest

import onnx_backend_cases as backend_cases

HERE = os.path.dirname(os.path.abspath(__file__))
PASSING_LIST = os.path.join(HERE, "onnx_backend_passing.txt")


def _passing():
    with open(PASSING_LIST) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def _claimed_cases():
    narrow = os.environ.get("ATROUS_ONNX_CASES", "")
    params = []
    for case in backend_cases.collect():
        if narrow not in case.name:
            continue
        model, _ = case.load()
        if backend_cases.is_claimed(backend_cases.operators(model)):
            params.append(pytest.param(case, id=f"{case.kind}/{case.name}"))
    return params


PASSING = _passing()
CASES = _claimed_cases()


def test_the_passing_list_names_claimed_cases():
    claimed = {p.id for p in CASES}
    if os.environ.get("ATROUS_ONNX_CASES"):
        pytest.skip("narrowed by ATROUS_ONNX_CASES")
    assert PASSING <= claimed, sorted(PASSING - claimed)[:10]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy folding the cases' constants (log 0, ...)
@pytest.mark.parametrize("case", CASES)
def test_onnx_backend_case(case, atrous_bin, tmp_path):
    key = f"{case.kind}/{case.name}"
    outcomes = backend_cases.run_case(case, atrous_bin, str(tmp_path))
    failed = {b: o.detail for b, o in outcomes.items() if o.status == "failed"}
    assert not failed, failed
    known = backend_cases.KNOWN_DIFFERENCES.get(key)
    if known:
        assert all(o.status == "differs" for o in outcomes.values()), \
            f"{key} is listed in KNOWN_DIFFERENCES but now matches: remove it from the list"
        pytest.xfail(known)
    refused = {o.detail for o in outcomes.values() if o.status == "unsupported"}
    if refused:
        assert key not in PASSING, f"{key} passed before and is now refused: {refused}"
        pytest.skip(f"unsupported: {refused.pop()}")
