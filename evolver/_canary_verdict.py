"""The gate's results: one `Check` per check, combined into a `Verdict`."""

from __future__ import annotations

from dataclasses import dataclass

from archive import VerdictRecord

__all__ = ["CHECK_STATUSES", "Check", "Verdict", "combine"]

#: What a check can conclude. "skipped" means it had nothing to measure, and says why.
CHECK_STATUSES = ("pass", "marginal", "fail", "skipped")


@dataclass(frozen=True)
class Check:
    """The outcome of one check of the gate, with every figure behind it.

    `counterexample` names the input, test or figure that made the check fail,
    in words a person can act on. It is empty when the check passed.
    """

    name: str
    status: str
    critical: bool
    summary: str
    figures: dict
    counterexample: str = ""

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "critical": self.critical,
            "summary": self.summary,
            "figures": self.figures,
            "counterexample": self.counterexample,
        }

    @classmethod
    def from_json(cls, name: str, data: dict) -> Check:
        return cls(
            name=name,
            status=str(data.get("status", "")),
            critical=bool(data.get("critical", True)),
            summary=str(data.get("summary", "")),
            figures=dict(data.get("figures", {})),
            counterexample=str(data.get("counterexample", "")),
        )


@dataclass(frozen=True)
class Verdict:
    """The gate's verdict on one candidate: "pass", "marginal" or "fail".

    Only a passing verdict promotes the candidate.
    """

    verdict: str
    checks: tuple[Check, ...]
    run_id: str = ""
    candidate_id: str = ""

    @property
    def promoted(self) -> bool:
        return self.verdict == "pass"

    @property
    def counterexample(self) -> str:
        """The counterexample of the first check that did not pass, if any."""
        for check in self.checks:
            if check.status in ("fail", "marginal") and check.counterexample:
                return check.counterexample
        return ""

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def checks_json(self) -> dict:
        """Return the checks as the archive stores them, keyed by name."""
        return {check.name: check.to_json() for check in self.checks}

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "candidate_id": self.candidate_id,
            "verdict": self.verdict,
            "promoted": self.promoted,
            "checks": self.checks_json(),
        }

    @classmethod
    def from_record(cls, record: VerdictRecord) -> Verdict:
        checks = tuple(
            Check.from_json(name, data) for name, data in record.checks.items()
        )
        return cls(record.verdict, checks, record.run_id, record.candidate_id)


def combine(checks: tuple[Check, ...]) -> str:
    """Combine check results into a verdict.

    A failed critical check fails the verdict. A marginal check, or a failed check
    that is not critical, makes it marginal. Passed and skipped checks leave it at
    pass.
    """
    if any(check.status == "fail" and check.critical for check in checks):
        return "fail"
    if any(check.status in ("fail", "marginal") for check in checks):
        return "marginal"
    return "pass"
