"""The NAT / NAT++ agent: GCN policy with BMSoftmax, REINFORCE trainer, and derive (best of N).

Public names: :class:`BMSoftmax`, :class:`NATPolicy`, :func:`observe`, :class:`NATConfig`,
:func:`train`, :func:`load_policy`, :func:`derive`, :class:`DeriveResult`.
"""

from agents.nat.bmsoftmax import BMSoftmax
from agents.nat.derive import DeriveResult, derive
from agents.nat.policy import NATPolicy, observe
from agents.nat.trainer import NATConfig, load_policy, train

__all__ = ["BMSoftmax", "DeriveResult", "NATConfig", "NATPolicy", "derive", "load_policy", "observe", "train"]
