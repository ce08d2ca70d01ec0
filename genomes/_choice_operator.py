"""The base of node operators that offer a short list of changes for each node."""

from __future__ import annotations

import abc
from typing import Any

from ._analysis import Analysis, NodeSite
from ._edit import Edit
from ._operator_base import BaseNodeOperator

__all__ = ["ChoiceOperator"]


class ChoiceOperator(BaseNodeOperator):
    """A node operator with a list of choices for each node of the mutable region.

    A subclass lists the arguments it offers for a site (`_choices`, empty
    when the node is not a site) and describes one (`_summary`). The sites
    and their choices are computed once per target and cached.
    """

    level = "expression"

    @abc.abstractmethod
    def _choices(self, analysis: Analysis, site: NodeSite) -> tuple[Any, ...]:
        """Return the arguments offered for `site` (empty when it is not a site)."""

    @abc.abstractmethod
    def _summary(self, analysis: Analysis, site: NodeSite, argument: Any) -> str:
        """Describe the change for people, e.g. `+ -> -`."""

    def _accepts(
        self,
        analysis: Analysis,
        site: NodeSite,
        choices: tuple[Any, ...],
        argument: Any,
    ) -> bool:
        """Tell whether `argument` is a valid change of `site`: one of its choices."""
        # `True == 1` and `1 == 1.0`, so an argument must also match in type.
        return any(
            type(choice) is type(argument) and choice == argument for choice in choices
        )

    def check(self, analysis: Analysis, edit: Edit) -> tuple[str, ...] | None:
        entry = self._by_address(analysis).get(edit.location)
        if entry is None or not self._accepts(analysis, *entry, edit.argument):
            return None
        return (edit.location,)

    def _locations_impl(self, analysis: Analysis) -> list[tuple[Any, int]]:
        return [
            (entry, len(entry[1])) for entry in self._by_address(analysis).values()
        ]

    def _site_impl(self, analysis: Analysis, location: Any, offset: int) -> Edit:
        site, choices = location
        argument = choices[offset]
        summary = self._summary(analysis, site, argument)
        return Edit(self.name, site.address, argument, line=site.line, summary=summary)

    def _by_address(
        self, analysis: Analysis
    ) -> dict[str, tuple[NodeSite, tuple[Any, ...]]]:
        key = ("choices", self.name)
        entries = analysis.cache.get(key)
        if entries is None:
            entries = {}
            for site in analysis.nodes:
                choices = self._choices(analysis, site)
                if choices:
                    entries[site.address] = (site, choices)
            analysis.cache[key] = entries
        return entries
