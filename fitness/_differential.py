"""Differential testing on the host: draw inputs once, replay them, compare results.

`draw_inputs` runs `differential.py` on the original in one sandbox and returns the
inputs it recorded from the suite and drew from annotations, as plain data.
`replay_inputs` feeds those inputs to one source in its own sandbox, and
`compare_replays` compares two replays input by input on the host, so a candidate
never sees or influences what the original's sandbox reports. Every report is
checked against its job's HMAC key before it is read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox import BaseSandbox, Job, Limits, Outcome, Result

from . import codec
from ._evaluate import REPORT_KEY_LENGTH, harness_source
from ._suite import Suite

__all__ = [
    "CallInput",
    "Difference",
    "DifferentialSettings",
    "InputDraw",
    "Replay",
    "compare_replays",
    "draw_inputs",
    "replay_inputs",
]

#: Longest encoded input, in characters, that is kept. Longer ones are left out so
#: that a few hundred inputs fit well inside the default 1 MiB report limit.
VALUE_LIMIT = 2000

#: Results whose encoding is longer than this many characters are reported as their
#: SHA-256, for the same reason. Two such results compare equal only when their
#: encodings are identical, so -0.0 and 0.0 inside them differ.
DIGEST_ABOVE = 4000


@dataclass(frozen=True)
class DifferentialSettings:
    """How many inputs to collect, with which seed, and the limits of each run."""

    seed: int = 1
    #: hypothesis examples per suite test while the suite's calls are recorded.
    max_examples: int = 100
    #: Inputs drawn with `st.from_type` per function at most.
    drawn_inputs: int = 100
    #: Distinct inputs recorded from the suite's calls per function at most.
    recorded_inputs: int = 100
    limits: Limits = field(default_factory=Limits)
    #: Keep only the calls of tests that pass on the original, for an original
    #: known to fail some tests.
    passing_tests_only: bool = False


@dataclass(frozen=True)
class CallInput:
    """One call to replay: the function's name and its arguments as codec data.

    `arguments` encodes `[args, kwargs]`. `origin` is "suite" for arguments that a
    test of the suite passed, "drawn" for arguments drawn from the annotations.
    """

    function: str
    arguments: list
    origin: str

    def describe(self) -> str:
        """Return the call as Python-like text, such as `normalise([1, 3])`."""
        try:
            args, kwargs = codec.decode(self.arguments)
        except (ValueError, TypeError):
            return f"{self.function}(<undecodable {self.arguments!r:.80}>)"
        parts = [repr(value) for value in args]
        parts += [f"{key}={value!r}" for key, value in kwargs.items()]
        text = f"{self.function}({', '.join(parts)})"
        return text if len(text) <= 500 else text[:497] + "..."


@dataclass(frozen=True)
class InputDraw:
    """The inputs collected on the original, or why none could be collected."""

    inputs: tuple[CallInput, ...]
    notes: tuple[str, ...]
    outcome: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK.value


@dataclass(frozen=True)
class Replay:
    """The results of one source on the inputs, one per input, in order.

    A result is None for each input the guest did not finish, because it stopped,
    ran out of fuel or broke the report protocol. `outcome` and `detail` give the
    reason.
    """

    results: tuple[dict | None, ...]
    outcome: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK.value and None not in self.results


@dataclass(frozen=True)
class Difference:
    """An input on which the candidate's result differs from the original's."""

    index: int
    input: CallInput
    original: dict
    candidate: dict | None

    def describe(self) -> str:
        """Explain the difference in one sentence that names the input."""
        call = self.input.describe()
        if self.candidate is None:
            return f"{call}: the candidate did not finish this call."
        theirs, mine = _describe_result(self.original), _describe_result(self.candidate)
        for key in ("returned", "yielded"):
            both = key in self.original and key in self.candidate
            if both and codec.same(self.original[key], self.candidate[key]):
                # The values agree, so the difference is in the arguments after
                # the call: one side changed them in place.
                before = codec.describe(self.original.get("arguments"))
                after = codec.describe(self.candidate.get("arguments"))
                return (
                    f"{call}: the candidate left its arguments as {after} where the "
                    f"original left them as {before}."
                )
        return f"{call}: the candidate {mine} where the original {theirs}."

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "call": self.input.describe(),
            "origin": self.input.origin,
            "original": self.original,
            "candidate": self.candidate,
            "message": self.describe(),
        }


def draw_inputs(
    sandbox: BaseSandbox,
    source: str,
    module_name: str,
    suite: Suite,
    functions: Sequence[str],
    settings: DifferentialSettings,
) -> InputDraw:
    """Record the suite's calls to `functions` and draw more inputs, on `source`.

    `source` must be the original: its sandbox decides which inputs exist.
    """
    config = {
        "mode": "draw",
        "module": module_name,
        "functions": list(functions),
        "suite": suite.file_name,
        "seed": settings.seed,
        "max_examples": settings.max_examples,
        "drawn_inputs": settings.drawn_inputs,
        "recorded_inputs": settings.recorded_inputs,
        "value_limit": VALUE_LIMIT,
        "passing_tests_only": settings.passing_tests_only,
    }
    files = {f"suite/{suite.file_name}": suite.source.encode("utf-8")}
    job = _job(source, module_name, config, files, settings.limits)
    result = sandbox.run(job)
    events, outcome, detail = _read_report(result, job.report_key)

    inputs = []
    notes = []
    for event in events:
        kind = event.get("event")
        if kind == "input":
            inputs.append(
                CallInput(
                    function=str(event["function"]),
                    arguments=event["arguments"],
                    origin=str(event["origin"]),
                )
            )
        elif kind == "note":
            notes.append(f"{event.get('function')}: {event.get('reason')}")
    return InputDraw(tuple(inputs), tuple(notes), outcome, detail)


def replay_inputs(
    sandbox: BaseSandbox,
    source: str,
    module_name: str,
    inputs: Sequence[CallInput],
    limits: Limits,
) -> Replay:
    """Call the functions of `source` on `inputs` in a fresh guest, in order."""
    config = {"mode": "replay", "module": module_name, "digest_above": DIGEST_ABOVE}
    entries = [
        {"function": item.function, "arguments": item.arguments} for item in inputs
    ]
    files = {"inputs.json": json.dumps(entries).encode("utf-8")}
    job = _job(source, module_name, config, files, limits)
    result = sandbox.run(job)
    events, outcome, detail = _read_report(result, job.report_key)

    results: list[dict | None] = [None] * len(inputs)
    for event in events:
        if event.get("event") != "result":
            continue
        index = event.get("index")
        if not isinstance(index, int) or not 0 <= index < len(inputs):
            return Replay(
                tuple([None] * len(inputs)),
                Outcome.TAMPERED.value,
                f"the report names input {index!r}, which does not exist",
            )
        results[index] = {
            key: value
            for key, value in event.items()
            if key not in ("event", "seq", "index")
        }
    if outcome == Outcome.OK.value and None in results:
        missing = results.index(None)
        outcome = Outcome.EXIT.value
        detail = detail or f"the guest stopped before input {missing} returned"
    return Replay(tuple(results), outcome, detail)


def compare_replays(
    inputs: Sequence[CallInput], original: Replay, candidate: Replay
) -> list[Difference]:
    """List the inputs where the candidate's result differs from the original's.

    Inputs the original did not finish are skipped, since there is nothing to
    compare with. An input the candidate did not finish is a difference.
    """
    differences = []
    for index, item in enumerate(inputs):
        theirs = original.results[index]
        mine = candidate.results[index]
        if theirs is None:
            continue
        if mine is None or not _same_result(theirs, mine):
            differences.append(Difference(index, item, theirs, mine))
    return differences


def _same_result(first: dict, second: dict) -> bool:
    if set(first) != set(second):
        return False
    return all(codec.same(first[key], second[key]) for key in first)


def _describe_result(result: dict) -> str:
    if "raised" in result:
        return f"raised {result['raised']}"
    if "returned" in result:
        return f"returned {codec.describe(result['returned'])}"
    if "yielded" in result:
        return f"yielded {codec.describe(result['yielded'])}"
    if "digest" in result:
        return f"returned a large value (encoded SHA-256 {result['digest'][:12]})"
    return f"returned a value that cannot be encoded ({result.get('unencodable')})"


def _job(
    source: str, module_name: str, config: dict, files: dict, limits: Limits
) -> Job:
    all_files = {
        "differential.py": harness_source("differential.py"),
        "guard.py": harness_source("guard.py"),
        "codec.py": harness_source("codec.py"),
        "config.json": json.dumps(config).encode(),
        f"site-packages/{module_name}.py": source.encode("utf-8"),
        **files,
    }
    key = secrets.token_bytes(REPORT_KEY_LENGTH)
    return Job(
        files=all_files,
        argv=("differential.py",),
        limits=limits,
        report_key=key,
        cached=("differential.py", "guard.py", "codec.py"),
    )


def _read_report(result: Result, key: bytes) -> tuple[list[dict], str, str]:
    """Verify the report and return its events, the outcome and a detail.

    A report that fails verification gives no events and the outcome "tampered".
    So does a report whose guest requested the key more than once.
    """
    outcome, detail = result.outcome.value, result.detail
    events = []
    for number, line in enumerate(result.report.splitlines()):
        text, _, mac = line.rpartition(b"\t")
        expected = hmac.new(key, text, hashlib.sha256).hexdigest().encode()
        try:
            event = json.loads(text) if hmac.compare_digest(mac, expected) else None
        except ValueError:
            event = None
        if not isinstance(event, dict) or event.get("seq") != number:
            return (
                [],
                Outcome.TAMPERED.value,
                f"report line {number + 1} is not authentic",
            )
        events.append(event)
    if events and result.key_requests != 1:
        reason = f"the guest requested the report key {result.key_requests} times"
        return [], Outcome.TAMPERED.value, reason

    kinds = {event.get("event"): event for event in events}
    if "tampered" in kinds:
        changed = kinds["tampered"].get("reason")
        reason = f"the guard found its environment changed: {changed}"
        return [], Outcome.TAMPERED.value, reason
    if "import_error" in kinds:
        error = kinds["import_error"]
        message = f"the {error.get('origin')} failed to import: {error.get('error')}"
        return events, Outcome.EXIT.value, message
    if outcome == Outcome.OK.value and "done" not in kinds:
        return events, Outcome.EXIT.value, "the guest exited before its report was done"
    return events, outcome, detail
