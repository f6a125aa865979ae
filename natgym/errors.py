"""Exceptions raised by natgym. All input errors are ``ValueError`` subclasses."""


class GenotypeError(ValueError):
    """A genotype (or its text) is malformed; the message names the field and allowed values."""


class InvalidActionError(ValueError):
    """An action chose an operation the transition rule does not allow for that edge."""


class ConfigError(ValueError):
    """A configuration argument has a value outside its allowed set."""


class TrainingDiverged(ConfigError):
    """Training met a non-finite loss; the message names the step and the likely cause."""
