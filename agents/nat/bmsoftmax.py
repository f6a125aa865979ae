"""BMSoftmax: a categorical distribution over the ops an edge may become (docs/method.md section 5).

``pi(j | o) = m_j exp(z_j) / sum_k m_k exp(z_k)`` with ``m = M[o, :]`` the transition-rule row of
the edge's current op. Masked targets get exactly zero probability and no gradient (their logits
are replaced by ``-inf`` with :func:`torch.where`, no epsilon), and log-probabilities and entropy
are sums over the valid ops only. :class:`Joint` puts several such distributions side by side
(the op and source-pair heads of NAT-Path-v0).
"""

from __future__ import annotations

import torch


class BMSoftmax:
    """Independent masked categoricals, one per leading index of ``logits`` (``(..., K)``).

    ``mask`` is boolean with the same shape; every row must allow at least one op (the current
    op is always allowed by the transition rules).
    """

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor) -> None:
        if logits.shape != mask.shape:
            raise ValueError(
                f"mask: expected shape {tuple(logits.shape)} (as logits), got {tuple(mask.shape)}"
            )
        self.mask = mask.to(torch.bool)
        if not bool(self.mask.any(-1).all()):
            raise ValueError("mask: every edge must allow at least one op")
        masked = torch.where(self.mask, logits, torch.full_like(logits, float("-inf")))
        self.logits = torch.log_softmax(masked, dim=-1)  # -inf exactly on masked ops
        self.probs = self.logits.exp()  # exactly 0 on masked ops

    def _safe_logits(self) -> torch.Tensor:
        return torch.where(self.mask, self.logits, torch.zeros_like(self.logits))

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One op index per row (int64, shape ``logits.shape[:-1]``); never a masked op."""
        flat = self.probs.detach().reshape(-1, self.probs.shape[-1])
        return torch.multinomial(flat, 1, generator=generator).reshape(self.probs.shape[:-1])

    def mode(self) -> torch.Tensor:
        """The most probable valid op per row."""
        return self.logits.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability of ``actions`` per row (``-inf`` for a masked op)."""
        return self.logits.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy per row, summed over valid ops only."""
        return -(self.probs * self._safe_logits()).sum(-1)


class Joint:
    """Several :class:`BMSoftmax` side by side along the action dimension: ``sample``, ``mode``,
    ``log_prob`` and ``entropy`` concatenate the parts' rows in order (``(B, R_1 + R_2 + ...)``),
    as a ``MultiDiscrete`` action lays out its dimensions (NAT-Path-v0: ops, then source pairs)."""

    def __init__(self, *parts: BMSoftmax) -> None:
        self.parts = parts
        self.sizes = [p.logits.shape[-2] for p in parts]

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One index per row of every part."""
        return torch.cat([p.sample(generator) for p in self.parts], dim=-1)

    def mode(self) -> torch.Tensor:
        """The most probable valid index per row of every part."""
        return torch.cat([p.mode() for p in self.parts], dim=-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability per row; ``actions`` concatenates the parts' indices."""
        chunks = torch.split(actions, self.sizes, dim=-1)
        return torch.cat([p.log_prob(a) for p, a in zip(self.parts, chunks)], dim=-1)

    def entropy(self) -> torch.Tensor:
        """Entropy per row of every part."""
        return torch.cat([p.entropy() for p in self.parts], dim=-1)
