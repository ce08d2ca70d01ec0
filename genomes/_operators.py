"""The registry of operators, in the order that `Target.sites` lists them."""

from __future__ import annotations

from ._expression_operators import BinaryOperator, ComparisonOperator, IntegerConstant
from ._operator_base import BaseOperator
from ._statement_operators import (
    DeleteStatement,
    InsertStatement,
    ReplaceStatement,
    SwapStatements,
)

__all__ = ["OPERATORS"]

#: Every operator by name. A new operator is a subclass of `BaseNodeOperator`
#: or `BaseStatementOperator` added here; `Target` and applying need no change.
OPERATORS: dict[str, BaseOperator] = {
    operator.name: operator
    for operator in (
        DeleteStatement(),
        InsertStatement(),
        ReplaceStatement(),
        SwapStatements(),
        BinaryOperator(),
        ComparisonOperator(),
        IntegerConstant(),
    )
}
