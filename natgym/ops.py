"""PyTorch modules of the 13 primitives (as in DARTS ``operations.py``), shared by the supernet
and the stand-alone network.

Every constructor takes ``norm``, a factory ``channels -> nn.Module`` for the normalisation
layer, so the stand-alone network uses affine ``BatchNorm2d`` and the supernet its own
per-architecture batch-statistics norm.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Norm = Callable[[int], nn.Module]


def batch_norm(affine: bool = True) -> Norm:
    """A ``norm`` factory for plain ``BatchNorm2d``."""
    return lambda c: nn.BatchNorm2d(c, affine=affine)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k) -> norm; the parts are ``conv`` and ``norm``."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, pad: int, norm: Norm) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=False),
            norm(c_out),
        )

    conv = property(lambda self: self[1])
    norm = property(lambda self: self[2])


class DilConv(nn.Sequential):
    """ReLU -> depthwise k (dilation 2) -> pointwise 1x1 -> norm; the parts are ``depthwise``,
    ``pointwise`` and ``norm``."""

    def __init__(self, c: int, k: int, stride: int, norm: Norm) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, stride=stride, padding=k - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            norm(c),
        )

    depthwise = property(lambda self: self[1])
    pointwise = property(lambda self: self[2])
    norm = property(lambda self: self[3])


class SepConv(nn.Sequential):
    """(ReLU -> depthwise k -> pointwise 1x1 -> norm) twice; only the first is strided. The
    parts are ``depthwise1``, ``pointwise1``, ``norm1``, ``depthwise2``, ``pointwise2``, ``norm2``.
    (Positions in the sequence, not names, keep the checkpoints' parameter keys.)"""

    def __init__(self, c: int, k: int, stride: int, norm: Norm) -> None:
        pad = k // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, stride=stride, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            norm(c),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, stride=1, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            norm(c),
        )

    depthwise1 = property(lambda self: self[1])
    pointwise1 = property(lambda self: self[2])
    norm1 = property(lambda self: self[3])
    depthwise2 = property(lambda self: self[5])
    pointwise2 = property(lambda self: self[6])
    norm2 = property(lambda self: self[7])


class Identity(nn.Module):
    """The stride-1 skip connection."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The null op: zeros of the output shape (subsampled at stride 2)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 stride-2 convs to ``c_out/2`` (one shifted by a pixel), concat, norm."""

    def __init__(self, c_in: int, c_out: int, norm: Norm) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"c_out: FactorizedReduce needs an even channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.norm = norm(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.norm(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class PoolBN(nn.Sequential):
    """Pooling -> norm: the supernet's pooling ops with ``pool_norm`` (as in the DARTS search
    network and the NAT reference supernet, where every pool is followed by an affine-free BN).
    The parts are ``pool`` and ``norm``."""

    def __init__(self, pool: nn.Module, norm: nn.Module) -> None:
        super().__init__(pool, norm)

    pool = property(lambda self: self[0])
    norm = property(lambda self: self[1])


def _pool(kind: str, k: int, stride: int) -> nn.Module:
    if kind == "max":
        return nn.MaxPool2d(k, stride=stride, padding=k // 2)
    return nn.AvgPool2d(k, stride=stride, padding=k // 2, count_include_pad=False)


OPS: dict[str, Callable[[int, int, Norm], nn.Module]] = {
    "max_pool_3x3": lambda c, s, norm: _pool("max", 3, s),
    "max_pool_5x5": lambda c, s, norm: _pool("max", 5, s),
    "avg_pool_3x3": lambda c, s, norm: _pool("avg", 3, s),
    "avg_pool_5x5": lambda c, s, norm: _pool("avg", 5, s),
    "skip_connect": lambda c, s, norm: Identity() if s == 1 else FactorizedReduce(c, c, norm),
    "sep_conv_3x3": lambda c, s, norm: SepConv(c, 3, s, norm),
    "sep_conv_5x5": lambda c, s, norm: SepConv(c, 5, s, norm),
    "dil_conv_3x3": lambda c, s, norm: DilConv(c, 3, s, norm),
    "dil_conv_5x5": lambda c, s, norm: DilConv(c, 5, s, norm),
    "conv_1x1": lambda c, s, norm: ReLUConvBN(c, c, 1, s, 0, norm),
    "conv_3x3": lambda c, s, norm: ReLUConvBN(c, c, 3, s, 1, norm),
    "conv_5x5": lambda c, s, norm: ReLUConvBN(c, c, 5, s, 2, norm),
    "null": lambda c, s, norm: Zero(s),
}
"""Op name -> constructor ``(channels, stride, norm) -> nn.Module``, in ``natgym.OPS`` order."""


def make_op(
    name: str, channels: int, stride: int, norm: Norm | None = None, pool_norm: bool = False
) -> nn.Module:
    """Build op ``name`` for ``channels`` in and out at ``stride`` (1 or 2); with ``pool_norm``
    a pooling op is followed by ``norm`` (:class:`PoolBN`)."""
    norm = norm or batch_norm()
    module = OPS[name](channels, stride, norm)
    if pool_norm and isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return PoolBN(module, norm(channels))
    return module
