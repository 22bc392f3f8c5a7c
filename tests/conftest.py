import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """Keep CPU runs reproducible and light on a 2-core CI machine."""
    torch.set_num_threads(2)
    yield
