import os

# Idle OpenMP threads sleep instead of spinning (set before torch loads libgomp): a spinning pool
# stalls every small tensor operation once another process takes a core.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """One intra-op thread: the tests' tensors are small, and one thread keeps the suite's time the same
    on a quiet 2-core machine and beside a busy process (two spinning threads lose up to 30x there)."""
    from qcdgen.runtime import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture
def one_thread():
    """Many small linear-algebra calls (spectral fits): one intra-op thread avoids oversubscription."""
    from qcdgen.runtime import torch_threads

    with torch_threads(1):
        yield
