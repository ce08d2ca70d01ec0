"""Exceptions raised by the genomes package."""

__all__ = ["GenomeError", "InvalidVariant", "TargetError"]


class GenomeError(ValueError):
    """Misuse of the genomes API or invalid input, such as an unknown operator."""


class TargetError(GenomeError):
    """A target that cannot be evolved: missing file, syntax error, unknown function."""


class InvalidVariant(GenomeError):
    """Applying a genome produced source that Python does not compile.

    `source` is the rejected text, kept so that callers can count or inspect
    such variants.
    """

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source
