import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Small test networks run faster on one thread of a shared 2-core machine.

    Tests only: the library itself never sets torch's thread count (DESIGN §6).
    """
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
