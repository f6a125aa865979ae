"""Zero-cost proxies: scores of an untrained stand-alone network that are cheap predictors of
how well it will train.

:func:`naswot` is the score of Mellor et al., "Neural Architecture Search without Training"
(ICML 2021): run one minibatch of N images through the network at initialisation, record for
every image the binary pattern of which ReLU units are active (a code of length N_A, all ReLUs
concatenated), build the N x N kernel ``K[i, j] = N_A - hamming(code_i, code_j)`` and return
``log |det K|``. Networks whose ReLU patterns separate the images well (codes far apart) score
higher. It needs no labels and no training; a score is one forward pass.
"""

from __future__ import annotations

import torch
from torch import nn

from natgym.genotype import Genotype
from natgym.network import Network


@torch.no_grad()
def naswot(
    genotype: Genotype,
    images: torch.Tensor,
    channels: int,
    layers: int,
    num_classes: int,
    seed: int = 0,
) -> float:
    """The NASWOT score of ``genotype``'s stand-alone :class:`~natgym.network.Network`
    (``channels`` x ``layers``, initialised with ``seed``) on ``images`` (``[N, C, H, W]``,
    one minibatch). Higher is better."""
    torch.manual_seed(seed)
    model = Network(genotype, channels, layers, num_classes, images.shape[1], images.shape[2])
    model.train()  # batch statistics, as at the start of training
    n = images.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        code = (output.reshape(n, -1) > 0).to(torch.float64)
        kernel.add_(code @ code.T + (1 - code) @ (1 - code).T)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model(images)
    finally:
        for handle in handles:
            handle.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)
