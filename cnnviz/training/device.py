"""Where and how training computes: the device, and the numeric precision (fp32 or bf16)."""

from __future__ import annotations

import os

import torch


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device``, else CUDA when available, else the CPU.

    Parameters
    ----------
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``, or ``None``.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device().type in ("cuda", "cpu")
    True

    Raises
    ------
    ValueError
        For a name torch does not know, or CUDA on a machine without it.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r} ({error})") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine")
    return chosen


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``"fp32"`` or ``"bf16"``: what ``precision`` (maybe ``"auto"``) means on ``device``.

    ``"auto"`` is ``"bf16"`` where the device has native bfloat16 arithmetic (a CPU with
    AVX512-BF16/AMX, a CUDA GPU that supports it), else ``"fp32"``. The environment
    variable ``CNNVIZ_PRECISION=fp32`` makes ``"auto"`` mean ``"fp32"`` everywhere, so a
    machine with bf16 can run (and the docs build can check) the path of a machine
    without it; ``CNNVIZ_PRECISION=auto`` or unset keeps the default. An explicit
    ``"fp32"`` or ``"bf16"`` is never overridden.

    Raises
    ------
    ValueError
        For another ``precision``, or another value of ``CNNVIZ_PRECISION``.

    Examples
    --------
    >>> resolve_precision("fp32")
    'fp32'
    >>> resolve_precision("auto") in ("fp32", "bf16")
    True
    >>> import os
    >>> os.environ["CNNVIZ_PRECISION"] = "fp32"
    >>> resolve_precision("auto"), resolve_precision("bf16")
    ('fp32', 'bf16')
    >>> del os.environ["CNNVIZ_PRECISION"]
    """
    if precision not in ("fp32", "bf16", "auto"):
        raise ValueError(f"precision must be 'fp32', 'bf16' or 'auto', not {precision!r}")
    if precision != "auto":
        return precision
    forced = os.environ.get("CNNVIZ_PRECISION", "auto") or "auto"
    if forced not in ("fp32", "auto"):
        raise ValueError(f"CNNVIZ_PRECISION must be 'fp32' or 'auto', not {forced!r}")
    if forced == "fp32":
        return "fp32"
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
