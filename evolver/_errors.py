"""The exceptions evolver raises for misuse, and the exit codes they map to."""

from __future__ import annotations

#: Exit codes of every command, documented in `evolver --help` and the README.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_ORIGINAL_FAILS = 3
#: `eval --check` on a candidate that does not pass its suite; the same code as for an
#: original that fails, because both mean "this source does not pass".
EXIT_TESTS_FAILED = EXIT_ORIGINAL_FAILS
EXIT_INTERRUPTED = 130


class EvolverError(Exception):
    """The root of the errors evolver reports to users; each maps to an exit code."""

    exit_code = EXIT_USAGE


class ConfigError(EvolverError, ValueError):
    """A configuration key, flag or input file is invalid."""


class OriginalFailsError(EvolverError):
    """The original target does not pass its own suite."""

    exit_code = EXIT_ORIGINAL_FAILS
