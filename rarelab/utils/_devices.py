"""Device choice: CUDA with mixed precision and channels_last when present, otherwise CPU."""

from __future__ import annotations

import torch

from ._validation import param_error


def choose_device(device=None) -> torch.device:
    """``None`` or ``"auto"`` picks CUDA when the kernel has a GPU, otherwise the CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise param_error("choose_device", "device", "None, 'auto', 'cpu', 'cuda' or 'cuda:N'", device) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise param_error(
            "choose_device",
            "device",
            "a device this machine has",
            device,
            "No CUDA GPU is visible; use device='cpu' or 'auto'.",
        )
    return dev


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)}, mixed precision, channels_last)"
    return f"cpu ({torch.get_num_threads()} threads)"
