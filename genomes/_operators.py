"""The registry of operators, in the order that `Target.sites` lists them."""

from __future__ import annotations

from ._binding_operators import (
    BindLocal,
    EliminateCommonSubexpression,
    HoistInvariant,
)
from ._expression_operators import BinaryOperator, BooleanOperator, ComparisonOperator
from ._literal_operators import BooleanConstant, FloatConstant, IntegerConstant
from ._loop_rewrites import ListToSet, LoopToComprehension
from ._move_operator import MoveStatement
from ._operator_base import BaseOperator
from ._replacement_operators import ReplaceExpression, SwapArguments
from ._statement_operators import (
    DeleteStatement,
    InsertJump,
    InsertStatement,
    InsertStatementAfter,
    ReplaceStatement,
    SwapStatements,
)
from ._unary_operators import InsertUnary, NegateCondition, UnaryOperator

__all__ = ["OPERATORS"]

#: Every operator by name: statement operators, then expression operators,
#: then speed rewrites. A new operator is a subclass of `BaseNodeOperator`,
#: `BaseStatementOperator`, or `BaseOperator` naming its own blocks and
#: nodes. Adding it here is enough, because `Target` and applying need no
#: change.
OPERATORS: dict[str, BaseOperator] = {
    operator.name: operator
    for operator in (
        DeleteStatement(),
        InsertStatement(),
        InsertStatementAfter(),
        ReplaceStatement(),
        SwapStatements(),
        MoveStatement(),
        InsertJump(),
        BinaryOperator(),
        ComparisonOperator(),
        BooleanOperator(),
        UnaryOperator(),
        InsertUnary(),
        IntegerConstant(),
        FloatConstant(),
        BooleanConstant(),
        NegateCondition(),
        ReplaceExpression(),
        SwapArguments(),
        BindLocal(),
        LoopToComprehension(),
        HoistInvariant(),
        ListToSet(),
        EliminateCommonSubexpression(),
    )
}
