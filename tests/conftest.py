import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """Keep CPU runs reproducible and light on a 2-core CI machine."""
    torch.set_num_threads(2)
    yield


@pytest.fixture
def one_thread():
    """Many small linear-algebra calls (spectral fits): one intra-op thread avoids oversubscription."""
    from qcdgen.runtime import torch_threads

    with torch_threads(1):
        yield
