"""Device helpers: choosing a device and moving torch state to the CPU."""

from __future__ import annotations

import torch

__all__ = ["resolve_device", "to_cpu"]


def resolve_device(device: str) -> str:
    """Map ``"auto"`` / ``"cpu"`` / ``"cuda"`` to a usable device string."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was requested but CUDA is not available; "
            "use device='cpu' or device='auto'."
        )
    return device


def to_cpu(obj):
    """Copy of a nested structure of tensors (dicts, lists, tuples) on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_cpu(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_cpu(v) for v in obj)
    return obj
