"""Unit tests of the genomes package on a small module with known variants."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genomes
from genomes import (
    LEVELS,
    OPERATORS,
    Edit,
    GenomeError,
    InvalidVariant,
    Target,
    TargetError,
    normalise_source,
    source_hash,
    validate_weights,
)

SOURCE = '''\
"""Demo module."""
import math

LIMIT = 10


def total(values):
    # Sum the values below the limit.
    result = 0
    for value in values:
        if value < LIMIT:
            result += value
        else:
            break
    return result


def scale(x):
    return x * 2 + 0x10


class Board:
    def place(self, row):
        if row is None:
            return -1
        return row
'''

#: Bounded so that the file runs in a few seconds on a loaded machine.
FEW = settings(max_examples=40, deadline=None, database=None)


@pytest.fixture(scope="module")
def target() -> Target:
    return Target.from_source(SOURCE, path="demo.py")


def find(target: Target, operator: str, line: int, summary: str) -> Edit:
    """Return the one site of `operator` at `line` whose summary is `summary`."""
    matches = [
        edit
        for edit in target.sites(operator)
        if edit.line == line and edit.summary == summary
    ]
    assert len(matches) == 1, [edit.describe() for edit in target.sites(operator)]
    return matches[0]


def find_at(target: Target, operator: str, location: str, summary: str) -> Edit:
    """Return the one site of `operator` at `location` whose summary is `summary`."""
    matches = [
        edit
        for edit in target.sites(operator)
        if edit.location == location and edit.summary == summary
    ]
    assert len(matches) == 1, [edit.describe() for edit in target.sites(operator)]
    return matches[0]


def statement_at(target: Target, line: int) -> str:
    """Return the address of the statement that starts at `line`."""
    edit = next(e for e in target.sites("delete_statement") if e.line == line)
    return edit.location


def test_all_matches_exports():
    public = {name for name in dir(genomes) if not name.startswith("_")}
    public -= {"annotations"}
    assert set(genomes.__all__) == public


def test_operators_registry_names():
    assert list(OPERATORS) == [
        "delete_statement",
        "insert_statement",
        "insert_statement_after",
        "replace_statement",
        "swap_statements",
        "move_statement",
        "insert_jump",
        "binary_operator",
        "comparison_operator",
        "boolean_operator",
        "unary_operator",
        "insert_unary",
        "integer_constant",
        "float_constant",
        "boolean_constant",
        "negate_condition",
        "replace_expression",
        "swap_arguments",
        "bind_local",
        "loop_to_comprehension",
        "hoist_invariant",
        "list_to_set",
        "eliminate_common_subexpression",
    ]
    for name, operator in OPERATORS.items():
        assert operator.name == name
        assert operator.__doc__
        assert operator.level in LEVELS


def test_operator_levels():
    levels = {level: [] for level in LEVELS}
    for name, operator in OPERATORS.items():
        levels[operator.level].append(name)
    assert levels["statement"][-1] == "insert_jump"
    assert levels["speed"] == [
        "bind_local",
        "loop_to_comprehension",
        "hoist_invariant",
        "list_to_set",
        "eliminate_common_subexpression",
    ]


def test_augmented_operator_change(target):
    edit = find(target, "binary_operator", 12, "+= -> -=")
    applied = target.apply([edit])
    assert applied.source == SOURCE.replace("result += value", "result -= value")
    assert applied.applied == (edit,)
    assert applied.skipped == ()


def test_binary_operator_choices(target):
    line_19 = [e.argument for e in target.sites("binary_operator") if e.line == 19]
    # `x * 2 + 0x10` has two binary operations of the arithmetic family.
    multiply = ["+", "-", "/", "//", "%", "**"]
    add = ["-", "*", "/", "//", "%", "**"]
    assert sorted(line_19) == sorted([*multiply, *add])


def test_describe_names_line_and_change(target):
    edit = find(target, "binary_operator", 12, "+= -> -=")
    assert edit.describe() == "binary_operator at line 12: += -> -="


def test_hex_literal_keeps_base(target):
    values = {e.argument: e for e in target.sites("integer_constant") if e.line == 19}
    assert sorted(values) == [0, 1, 3, 4, 8, 15, 17, 32]
    changed = target.apply([values[17]]).source
    assert changed == SOURCE.replace("0x10", "0x11")
    assert target.apply([values[15]]).source == SOURCE.replace("0x10", "0xf")


def test_negative_result_gets_parentheses(target):
    edit = find(target, "integer_constant", 9, "0 -> -1")
    source = target.apply([edit]).source
    assert "    result = (-1)\n" in source
    assert source.replace("(-1)", "0", 1) == SOURCE


def test_unary_minus_literal_choices(target):
    choices = [e.argument for e in target.sites("integer_constant") if e.line == 25]
    assert choices == [2, 0]


def test_later_literal_change_wins(target):
    first = find(target, "integer_constant", 9, "0 -> -1")
    second = find(target, "integer_constant", 9, "0 -> 1")
    applied = target.apply([first, second])
    assert "    result = 1\n" in applied.source
    assert applied.applied == (first, second)


def test_comparison_families(target):
    ordering = [e.argument for e in target.sites("comparison_operator") if e.line == 11]
    identity = [e.argument for e in target.sites("comparison_operator") if e.line == 24]
    assert ordering == ["<=", "==", "!=", ">", ">="]
    assert identity == ["is not"]
    edit = target.sites("comparison_operator")[-1]
    assert target.apply([edit]).source == SOURCE.replace("is None", "is not None")


def test_delete_only_statement_leaves_pass(target):
    edit = find(target, "delete_statement", 14, "delete `break`")
    expected = SOURCE.replace("            break\n", "            pass\n")
    assert target.apply([edit]).source == expected


def test_delete_takes_comment_above(target):
    edit = find(target, "delete_statement", 9, "delete `result = 0`")
    expected = SOURCE.replace(
        "    # Sum the values below the limit.\n    result = 0\n", ""
    )
    assert target.apply([edit]).source == expected


def test_swap_moves_comment_along(target):
    edit = find(target, "swap_statements", 9, "swap with line 15")
    lines = target.apply([edit]).source.split("\n")
    assert lines[7:10] == [
        "    return result",
        "    for value in values:",
        "        if value < LIMIT:",
    ]
    assert lines[13:15] == ["    # Sum the values below the limit.", "    result = 0"]


def test_insert_goes_above_comment(target):
    ingredient = statement_at(target, 4)
    edit = Edit("insert_statement", statement_at(target, 9), ingredient)
    expected = SOURCE.replace("    # Sum", "    LIMIT = 10\n    # Sum")
    assert target.apply([edit]).source == expected


def test_inserts_keep_genome_order(target):
    before = statement_at(target, 15)
    first = Edit("insert_statement", before, statement_at(target, 2))
    second = Edit("insert_statement", before, statement_at(target, 4))
    source = target.apply([first, second]).source
    assert "    import math\n    LIMIT = 10\n    return result\n" in source


def test_replace_keeps_comment_above(target):
    edit = Edit("replace_statement", statement_at(target, 9), statement_at(target, 4))
    expected = SOURCE.replace("    result = 0\n", "    LIMIT = 10\n")
    assert target.apply([edit]).source == expected


def test_replace_never_offers_own_code(target):
    for edit in target.sites("replace_statement"):
        analysis = target._analysis
        own = analysis.ingredient_index[edit.location]
        assert analysis.ingredient_index[edit.argument] != own


def test_copies_respect_scope(target):
    break_line = statement_at(target, 14)
    return_line = statement_at(target, 15)
    inserts = target.sites("insert_statement")
    break_places = {e.line for e in inserts if e.argument == break_line}
    return_places = {e.line for e in inserts if e.argument == return_line}
    # `break` only goes into the loop body (lines 11, 12, 14), and `return`
    # only into function bodies, never at module level or in a class body.
    assert break_places == {11, 12, 14}
    assert return_places.isdisjoint({1, 2, 4, 7, 18, 22, 23})
    assert {9, 10, 15, 19, 24, 25, 26} <= return_places


def test_edit_inside_deleted_node_skipped(target):
    loop = find(target, "delete_statement", 10, "delete `for value in values:`")
    inner = find(target, "binary_operator", 12, "+= -> -=")
    applied = target.apply([loop, inner])
    assert applied.applied == (loop,)
    assert applied.skipped == (inner,)
    assert "+=" not in applied.source


def test_edit_before_deletion_applies(target):
    loop = find(target, "delete_statement", 10, "delete `for value in values:`")
    inner = find(target, "binary_operator", 12, "+= -> -=")
    applied = target.apply([inner, loop])
    assert applied.applied == (inner, loop)
    assert applied.source == target.apply([loop]).source


def test_insert_before_replaced_skipped(target):
    location = statement_at(target, 9)
    replace = Edit("replace_statement", location, statement_at(target, 4))
    insert = Edit("insert_statement", location, statement_at(target, 2))
    applied = target.apply([replace, insert])
    assert applied.skipped == (insert,)


def test_delete_after_swap_follows_statement(target):
    swap = find(target, "swap_statements", 9, "swap with line 15")
    delete = find(target, "delete_statement", 9, "delete `result = 0`")
    applied = target.apply([swap, delete])
    assert applied.applied == (swap, delete)
    assert "result = 0" not in applied.source
    assert applied.source.index("return result") < applied.source.index("for value")


def test_unknown_address_skipped(target):
    stale = Edit("delete_statement", "body[99]")
    wrong_kind = Edit("integer_constant", statement_at(target, 9), 3)
    bad_symbol = Edit("binary_operator", "body[5].body.body[0].body[0].value", "<<")
    applied = target.apply([stale, wrong_kind, bad_symbol])
    assert applied.skipped == (stale, wrong_kind, bad_symbol)
    assert applied.source == SOURCE


#: Pairs of edits at one location where the first makes the node another kind
#: of node. Each row has the source, the operator and summary of the first
#: edit, the same for the second, and the variant that the first alone gives.
CHANGED_NODE_CASES = [
    (
        "def f(a, b, c):\n    return a * b + c\n",
        ("insert_unary", "insert `-`"),
        ("binary_operator", "* -> -"),
        "def f(a, b, c):\n    return -(a * b) + c\n",
    ),
    (
        "def f(a, b, c):\n    return (a or b) and c\n",
        ("insert_unary", "insert `not`"),
        ("boolean_operator", "or -> and"),
        "def f(a, b, c):\n    return (not (a or b)) and c\n",
    ),
    (
        "def f(a):\n    return a and True\n",
        ("insert_unary", "insert `not`"),
        ("boolean_constant", "True -> False"),
        "def f(a):\n    return a and not True\n",
    ),
    (
        "def f(g, a, b):\n    return g(a, b) * 2\n",
        ("insert_unary", "insert `-`"),
        ("swap_arguments", "swap arguments 1 and 2 (`a`, `b`)"),
        "def f(g, a, b):\n    return -g(a, b) * 2\n",
    ),
    (
        "def f(a):\n    return -a\n",
        ("unary_operator", "remove `-`"),
        ("unary_operator", "- -> +"),
        "def f(a):\n    return a\n",
    ),
]


@pytest.mark.parametrize(("source", "first", "second", "expected"), CHANGED_NODE_CASES)
def test_edit_of_changed_node_skipped(source, first, second, expected):
    target = Target.from_source(source)
    change = find(target, second[0], 2, second[1])
    wrap = find_at(target, first[0], change.location, first[1])

    applied = target.apply([wrap, change])
    assert applied.applied == (wrap,)
    assert applied.skipped == (change,)
    assert applied.source == expected


@pytest.mark.parametrize(("source", "first", "second", "expected"), CHANGED_NODE_CASES)
def test_edit_before_node_change_applies(source, first, second, expected):
    target = Target.from_source(source)
    change = find(target, second[0], 2, second[1])
    wrap = find_at(target, first[0], change.location, first[1])

    applied = target.apply([change, wrap])
    assert applied.applied == (change, wrap)
    assert applied.skipped == ()
    assert applied.source != source


def test_unknown_operator_raises(target):
    with pytest.raises(GenomeError, match="unknown operator 'grow'"):
        target.apply([Edit("grow", "body[0]")])
    with pytest.raises(GenomeError, match="a genome contains Edit objects"):
        target.apply([("delete_statement", "body[0]")])


def test_has_sites_matches_sites(target):
    empty = Target.from_source("# Nothing here yet.\n")
    assert target.has_sites() is True
    assert target.sites() != []
    assert empty.has_sites() is False
    assert empty.sites() == []


def test_empty_genome_gives_original(target):
    applied = target.apply(())
    assert applied.source == SOURCE
    assert applied.applied == ()


def test_variant_that_does_not_compile():
    source = "def f():\n    print(x)\n\n\ndef g():\n    global x\n    x = 1\n"
    target = Target.from_source(source, path="glob.py")
    global_line = statement_at(target, 6)
    edit = Edit("insert_statement", statement_at(target, 7), global_line)
    assert target.apply([edit]).source.count("global x") == 2
    bad = Edit("replace_statement", statement_at(target, 2), global_line)
    bad_too = Edit("insert_statement", statement_at(target, 2), statement_at(target, 2))
    with pytest.raises(
        InvalidVariant, match=r"glob.py .*line 3 of the variant"
    ) as caught:
        target.apply([bad_too, bad])
    assert "global x\n    print(x)" not in caught.value.source
    assert "print(x)\n    global x" in caught.value.source


@pytest.mark.parametrize(
    ("newline", "indent"), [("\r\n", "    "), ("\n", "\t")], ids=["crlf", "tabs"]
)
def test_variants_keep_line_style(newline, indent):
    lines = ["def f(a):", "#if a > 1:", "##return a * 2", "#a += 1", "#return a", ""]
    source = newline.join(line.replace("#", indent) for line in lines)
    target = Target.from_source(source)
    assert target.sites()
    for edit in target.sites():
        variant = target.apply([edit]).source
        assert variant.count("\n") == variant.count(newline), edit.describe()
        for line in variant.split(newline):
            margin = line[: len(line) - len(line.lstrip())]
            assert margin == indent * (len(margin) // len(indent)), edit.describe()


def test_future_import_stays_first():
    source = "from __future__ import annotations\nimport os\nx = 1\n"
    target = Target.from_source(source)
    assert all(edit.line != 1 for edit in target.sites())
    for edit in target.sites():
        target.apply([edit])


def test_functions_restrict_sites():
    target = Target.from_source(SOURCE, functions=["Board.place"])
    assert target.functions == ("Board.place",)
    lines = {edit.line for edit in target.sites()}
    assert lines == {24, 25, 26}
    for edit in target.sites():
        source = target.apply([edit]).source.split("\n")
        assert source[:23] == SOURCE.split("\n")[:23]


def test_functions_restrict_apply():
    restricted = Target.from_source(SOURCE, functions=["Board.place"])
    whole = Target.from_source(SOURCE)
    outside = find(whole, "binary_operator", 12, "+= -> -=")
    inside = find(whole, "comparison_operator", 24, "is -> is not")
    applied = restricted.apply([outside, inside])
    assert applied.skipped == (outside,)
    assert applied.applied == (inside,)


def test_sites_unknown_operator(target):
    with pytest.raises(GenomeError, match="unknown operator 'grow'; the operators"):
        target.sites("grow")


def test_functions_nested_qualname():
    source = "def outer():\n    def inner():\n        return 1\n    return inner\n"
    target = Target.from_source(source, functions=["outer.<locals>.inner"])
    assert {edit.line for edit in target.sites()} == {3}


def test_unknown_function_raises():
    with pytest.raises(
        TargetError, match=r"'totl' not found in demo\.py; did you mean 'total'\?"
    ):
        Target.from_source(SOURCE, path="demo.py", functions=["totl"])
    with pytest.raises(
        TargetError, match=r"'Board' in demo\.py is a class.*'Board\.place'"
    ):
        Target.from_source(SOURCE, path="demo.py", functions=["Board"])
    with pytest.raises(GenomeError, match=r"write \['total'\]"):
        Target.from_source(SOURCE, functions="total")


def test_from_file_reads_module(tmp_path):
    path = tmp_path / "shapes.py"
    path.write_bytes("# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1"))
    target = Target.from_file(path)
    assert target.path == path
    assert target.module_name == "shapes"
    assert "café" in target.source
    assert target.functions == ()


def test_from_file_errors(tmp_path):
    missing = tmp_path / "missing.py"
    with pytest.raises(TargetError, match=r"missing\.py not found"):
        Target.from_file(missing)
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n    pass\n")
    with pytest.raises(TargetError, match=r"broken.py is not valid Python.*line 1"):
        Target.from_file(broken)
    outside = tmp_path / "outside.py"
    outside.write_text("return 1\n")
    message = r"outside.py is not valid Python: 'return' outside function \(line 1\)"
    with pytest.raises(TargetError, match=message):
        Target.from_file(outside)


def test_random_edit_is_deterministic(target):
    first = [target.random_edit(random.Random(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng_a, rng_b = random.Random(11), random.Random(11)
    assert [target.random_edit(rng_a) for _ in range(20)] == [
        target.random_edit(rng_b) for _ in range(20)
    ]


def test_random_edit_draws_every_operator(target):
    rng = random.Random(3)
    drawn = {target.random_edit(rng).operator for _ in range(400)}
    with_sites = {name for name, op in OPERATORS.items() if op.count(target)}
    assert drawn == with_sites
    # The demo has no floats, `and`, booleans, append loops or repeated calls.
    assert set(OPERATORS) - with_sites == {
        "boolean_operator",
        "boolean_constant",
        "float_constant",
        "loop_to_comprehension",
        "hoist_invariant",
        "list_to_set",
        "eliminate_common_subexpression",
        "swap_arguments",
    }


def test_weights_zero_disables(target):
    rng = random.Random(4)
    weights = {name: 0 for name in OPERATORS} | {"comparison_operator": 1}
    edits = [target.random_edit(rng, weights=weights) for _ in range(30)]
    assert {edit.operator for edit in edits} == {"comparison_operator"}


def test_weights_share_draws(target):
    rng = random.Random(5)
    weights = {name: 0 for name in OPERATORS}
    weights |= {"binary_operator": 3, "delete_statement": 1}
    drawn = Counter(
        target.random_edit(rng, weights=weights).operator for _ in range(800)
    )
    assert set(drawn) == {"binary_operator", "delete_statement"}
    assert 0.68 < drawn["binary_operator"] / 800 < 0.82


def test_weights_with_operators(target):
    rng = random.Random(6)
    edit = target.random_edit(
        rng, ["delete_statement", "binary_operator"], {"binary_operator": 0}
    )
    assert edit.operator == "delete_statement"
    disabled = {"delete_statement": 0, "binary_operator": 0}
    assert target.random_edit(rng, ["delete_statement"], disabled) is None


def test_validate_weights_fills_defaults():
    weights = validate_weights({"bind_local": 2.5, "delete_statement": 0})
    assert list(weights) == list(OPERATORS)
    assert weights["bind_local"] == 2.5
    assert weights["delete_statement"] == 0.0
    assert weights["binary_operator"] == 1.0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"bind_locals": 1}, r"'bind_locals'.*did you mean 'bind_local'"),
        ({"grow": 1}, r"unknown operator 'grow' in operator weights; the operators"),
        ({"bind_local": "high"}, r"'bind_local' must be a number, got 'high'"),
        ({"bind_local": True}, r"'bind_local' must be a number, got True"),
        ({"bind_local": -1}, r"'bind_local' must be a finite number of 0 or more"),
        ({"bind_local": float("nan")}, r"finite number of 0 or more, got nan"),
        ({name: 0 for name in OPERATORS}, r"disable every operator"),
        (["bind_local"], r"must be a mapping of operator name to number"),
    ],
)
def test_validate_weights_rejects(weights, message):
    with pytest.raises(GenomeError, match=message):
        validate_weights(weights)
    with pytest.raises(GenomeError, match=message):
        Target.from_source(SOURCE).random_edit(random.Random(0), weights=weights)


def test_ingredients_from_other_file(tmp_path):
    helper = tmp_path / "helpers.py"
    helper.write_text("def clamp(value):\n    return max(0, value)\n\nRATE = 0.5\n")
    target = Target.from_source(SOURCE, path="demo.py", ingredients=[helper])
    assert target.ingredient_files == (helper.as_posix(),)
    key = helper.as_posix()
    inserts = [
        edit
        for edit in target.sites("insert_statement")
        if edit.argument.startswith(key + "::") and edit.line == 9
    ]
    # A statement inside a block joins the pool before the block's statement.
    assert [edit.summary for edit in inserts] == [
        f"insert copy of {key} line 2 `return max(0, value)`",
        f"insert copy of {key} line 1 `def clamp(value):`",
        f"insert copy of {key} line 4 `RATE = 0.5`",
    ]
    source = target.apply([inserts[2]]).source
    assert source == SOURCE.replace("    # Sum", "    RATE = 0.5\n    # Sum")
    # `return` from the helper only goes where a function allows it.
    returns = [
        edit.line
        for edit in target.sites("replace_statement")
        if edit.argument == key + "::body[0].body.body[0]"
    ]
    assert returns and all(line > 7 for line in returns)


def test_ingredients_missing_elsewhere(tmp_path):
    helper = tmp_path / "helpers.py"
    helper.write_text("RATE = 0.5\n")
    widened = Target.from_source(SOURCE, ingredients=[helper])
    edit = next(
        edit for edit in widened.sites("insert_statement") if "::" in edit.argument
    )
    plain = Target.from_source(SOURCE)
    assert plain.apply([edit]).skipped == (edit,)


def test_ingredients_errors(tmp_path):
    with pytest.raises(TargetError, match=r"ingredient file .*nothing\.py not found"):
        Target.from_source(SOURCE, ingredients=[tmp_path / "nothing.py"])
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    with pytest.raises(TargetError, match=r"ingredient file .*broken\.py is not valid"):
        Target.from_source(SOURCE, ingredients=[broken])
    with pytest.raises(GenomeError, match="ingredients must be a sequence of paths"):
        Target.from_source(SOURCE, ingredients="helpers.py")


def test_random_edit_limits_operators(target):
    rng = random.Random(5)
    edits = [target.random_edit(rng, ["comparison_operator"]) for _ in range(10)]
    assert {edit.operator for edit in edits} == {"comparison_operator"}
    plain = Target.from_source("name = 'x'\n")
    assert plain.random_edit(rng, ["binary_operator", "integer_constant"]) is None
    with pytest.raises(GenomeError, match="unknown operator 'flip'"):
        target.random_edit(rng, ["flip"])


def test_sites_order_is_fixed(target):
    again = Target.from_source(SOURCE, path="demo.py")
    assert again.sites() == target.sites()
    assert [e.describe() for e in again.sites()] == [
        e.describe() for e in target.sites()
    ]
    counts = [OPERATORS[name].count(target) for name in OPERATORS]
    assert sum(counts) == len(target.sites())


@FEW
@given(st.data())
def test_apply_twice_same_source(target, data):
    sites = target.sites()
    genome = data.draw(st.lists(st.sampled_from(sites), max_size=5))
    first = target.apply(genome)
    second = target.apply(genome)
    assert first == second
    assert len(first.applied) + len(first.skipped) == len(genome)
    applied, skipped = list(first.applied), list(first.skipped)
    for edit in genome:
        # Both lists keep genome order, so each edit heads one of them.
        source = applied if applied and applied[0] == edit else skipped
        assert source.pop(0) == edit


@FEW
@given(st.data())
def test_edit_json_round_trip(target, data):
    edit = data.draw(st.sampled_from(target.sites()))
    text = json.dumps(edit.to_json())
    back = Edit.from_json(json.loads(text))
    assert back == edit
    assert back.describe() == edit.describe()


@FEW
@given(
    argument=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=3),
        max_leaves=6,
    )
)
def test_edit_json_arguments(argument):
    edit = Edit.from_json(
        {"operator": "x", "location": "body[0]", "argument": argument}
    )
    assert edit.to_json()["argument"] == argument
    assert Edit.from_json(edit.to_json()) == edit
    assert hash(edit) == hash(Edit.from_json(edit.to_json()))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"operator": "x"}, "'location' must be a non-empty string"),
        ({"operator": "", "location": "body[0]"}, "'operator' must be"),
        (
            {"operator": "x", "location": "b", "colour": 1},
            r"unknown key\(s\) \['colour'\]",
        ),
        ({"operator": "x", "location": "b", "argument": {"a": 1}}, "must be null"),
        ({"operator": "x", "location": "b", "line": "3"}, "'line' must be an integer"),
        (["x"], "must be a JSON object"),
    ],
)
def test_edit_from_json_rejects(data, message):
    with pytest.raises(GenomeError, match=message):
        Edit.from_json(data)


def test_hash_ignores_formatting():
    plain = "def f(a, b):\n    return a + b\n"
    styled = "# header\ndef f(a,b):  # add\n\n    return (a +\n            b)\n"
    assert normalise_source(plain) == normalise_source(styled)
    assert source_hash(plain) == source_hash(styled)
    assert len(source_hash(plain)) == 64


def test_hash_tells_programs_apart(target):
    edit = find(target, "binary_operator", 12, "+= -> -=")
    assert source_hash(target.apply([edit]).source) != source_hash(SOURCE)
    assert source_hash("x = 1\n") != source_hash("x = 2\n")
    assert source_hash('"""A."""\n') != source_hash('"""B."""\n')


def test_hash_same_for_equal_variants(target):
    # Two genomes that differ but give the same program share one identity.
    first = find(target, "integer_constant", 9, "0 -> 1")
    second = find(target, "integer_constant", 9, "0 -> -1")
    assert source_hash(target.apply([second, first]).source) == source_hash(
        target.apply([first]).source
    )


def test_normalise_rejects_invalid():
    with pytest.raises(GenomeError, match="not valid Python"):
        normalise_source("def (:\n")
