"""The gate's exit codes and its error type, which differ from the other commands'."""

from __future__ import annotations

from ._errors import EvolverError

#: Every target holds: tests pass and no benchmark regressed beyond its threshold.
GATE_OK = 0
#: A target regressed: a test failed, the sandbox stopped the suite, a benchmark got
#: slower than its threshold allows, or `--require-update` found an unrecorded change.
GATE_REGRESSED = 1
#: The configuration, the flags, the baseline or an evaluation could not be used.
GATE_ERROR = 2

GATE_EXIT_CODES_HELP = f"""\
exit codes of gate, which differ from those of the other commands:
  {GATE_OK}    every target holds
  {GATE_REGRESSED}    a target regressed: a test failed, the suite did not finish, a
       benchmark is slower than its threshold allows, or --require-update
       found a change that the baseline does not record
  {GATE_ERROR}    invalid configuration, flags or baseline, an evaluation error, or
       an internal error (rerun with --debug for a traceback)
  130  interrupted with Ctrl-C
"""


class GateError(EvolverError):
    """The gate could not evaluate or compare: a git, sandbox or baseline problem."""

    exit_code = GATE_ERROR
