"""Each new operator on small snippets, with the exact variant it gives."""

from __future__ import annotations

import ast
import textwrap

import pytest

from genomes import Edit, Target


def make(source: str) -> Target:
    return Target.from_source(textwrap.dedent(source), path="snippet.py")


def variants(target: Target, operator: str) -> dict[str, str]:
    """Map each site's summary to the variant it gives."""
    result = {}
    for edit in target.sites(operator):
        assert edit.summary not in result, edit.summary
        result[edit.summary] = target.apply([edit]).source
    return result


def one(target: Target, operator: str, summary: str, line: int | None = None) -> Edit:
    """Return the site of `operator` with `summary` (at `line`, when given)."""
    matches = [
        edit
        for edit in target.sites(operator)
        if edit.summary == summary and line in (None, edit.line)
    ]
    assert len(matches) == 1, [edit.describe() for edit in target.sites(operator)]
    return matches[0]


def run(source: str, function: str, *arguments):
    namespace: dict = {}
    exec(compile(source, "snippet.py", "exec"), namespace)
    return namespace[function](*arguments)


LOOP = """\
def keep(items, limit):
    # Keep the small ones.
    kept = []
    for item in items:
        if item < limit:
            kept.append(item)
        else:
            continue
    return kept
"""


def test_insert_after_keeps_genome_order():
    target = make(LOOP)
    after = "insert_statement_after"
    copy = "insert copy of line {} after this statement"
    first = one(target, after, copy.format("3 `kept = []`"), 3)
    second = one(target, after, copy.format("9 `return kept`"), 3)
    source = target.apply([first, second]).source
    assert source == LOOP.replace(
        "    kept = []\n", "    kept = []\n    kept = []\n    return kept\n"
    )


def test_insert_after_goes_below_statement():
    target = make("x = 1\n# The answer.\ny = 2\n")
    summary = "insert copy of line 3 `y = 2` after this statement"
    edit = one(target, "insert_statement_after", summary, 1)
    assert target.apply([edit]).source == "x = 1\ny = 2\n# The answer.\ny = 2\n"


def test_move_carries_comment():
    target = make(LOOP)
    edit = one(target, "move_statement", "move before line 9", 3)
    assert edit.location == "body[0].body.body[0]"
    assert target.apply([edit]).source == (
        "def keep(items, limit):\n"
        "    for item in items:\n"
        "        if item < limit:\n"
        "            kept.append(item)\n"
        "        else:\n"
        "            continue\n"
        "    # Keep the small ones.\n"
        "    kept = []\n"
        "    return kept\n"
    )


def test_move_into_other_block():
    target = make(LOOP)
    moves = [
        edit
        for edit in target.sites("move_statement")
        if edit.location == "body[0].body.body[2]"
    ]
    # `return kept` may go anywhere in the function body outside itself.
    summaries = {edit.summary for edit in moves}
    assert summaries == {
        "move before line 3",
        "move before line 4",
        "move before line 5",
        "move after line 5",
        "move before line 6",
        "move after line 6",
        "move before line 8",
        "move after line 8",
    }
    into_loop = one(target, "move_statement", "move after line 6", 9)
    source = target.apply([into_loop]).source
    assert "            kept.append(item)\n            return kept\n" in source
    assert not source.endswith("return kept\n")


def test_move_respects_scope():
    target = make(LOOP)
    returns = [
        edit
        for edit in target.sites("move_statement")
        if edit.location == "body[0].body.body[2]"
    ]
    assert all(edit.argument[0] != "body[0]" for edit in returns)
    breaks = [
        edit
        for edit in target.sites("move_statement")
        if edit.location.endswith("orelse.body.body[0]")
    ]
    # `continue` only moves within the loop body.
    assert {edit.argument[0] for edit in breaks} <= {
        "body[0].body.body[1].body.body[0]",
        "body[0].body.body[1].body.body[0].body.body[0]",
    }


def test_move_never_leaves_in_place():
    target = make(LOOP)
    for edit in target.sites("move_statement"):
        assert target.apply([edit]).source != target.source, edit.describe()


def test_move_then_edit_inside_skipped():
    target = make(LOOP)
    move = one(target, "move_statement", "move before line 9", 3)
    delete = next(
        edit for edit in target.sites("delete_statement") if edit.line == 3
    )
    applied = target.apply([move, delete])
    assert applied.skipped == (delete,)


def test_insert_jump_by_scope():
    target = make(LOOP)
    by_line: dict[int, list[str]] = {}
    for edit in target.sites("insert_jump"):
        by_line.setdefault(edit.line, []).append(edit.argument)
    assert by_line[3] == ["return"]
    assert by_line[5] == ["break", "continue", "return"]
    edit = next(
        edit
        for edit in target.sites("insert_jump")
        if edit.line == 6 and edit.argument == "break"
    )
    assert target.apply([edit]).source == LOOP.replace(
        "            kept.append", "            break\n            kept.append"
    )


def test_boolean_operator_swaps_keyword():
    target = make("def f(a, b, c):\n    return a and b or c\n")
    assert variants(target, "boolean_operator") == {
        "or -> and": "def f(a, b, c):\n    return a and b and c\n",
        "and -> or": "def f(a, b, c):\n    return a or b or c\n",
    }


def test_unary_operator_choices():
    target = make("def f(x, y):\n    return -x + (not y) + ~x\n")
    assert variants(target, "unary_operator") == {
        "remove `-`": "def f(x, y):\n    return x + (not y) + ~x\n",
        "- -> +": "def f(x, y):\n    return +x + (not y) + ~x\n",
        "- -> ~": "def f(x, y):\n    return ~x + (not y) + ~x\n",
        "remove `not`": "def f(x, y):\n    return -x + (y) + ~x\n",
        "remove `~`": "def f(x, y):\n    return -x + (not y) + x\n",
        "~ -> -": "def f(x, y):\n    return -x + (not y) + -x\n",
        "~ -> +": "def f(x, y):\n    return -x + (not y) + +x\n",
    }


def test_insert_unary_wraps_operand():
    target = make("def f(a, b, c):\n    return (a + b) * c if a and b else c ** 2\n")
    body = "def f(a, b, c):\n    return "
    found = {
        target.apply([edit]).source[len(body) : -1]
        for edit in target.sites("insert_unary")
    }
    # `-c ** 2` would mean `-(c ** 2)`, so the left operand of `**` is no site.
    assert found == {
        "-(a + b) * c if a and b else c ** 2",
        "(a + b) * -c if a and b else c ** 2",
        "(-a + b) * c if a and b else c ** 2",
        "(a + -b) * c if a and b else c ** 2",
        "(a + b) * c if not (a and b) else c ** 2",
        "(a + b) * c if not a and b else c ** 2",
        "(a + b) * c if a and not b else c ** 2",
        "(a + b) * c if a and b else c ** -2",
    }


def test_insert_not_after_keyword_without_space():
    target = make("def f(a, b):\n    if(a)and b:\n        return 1\n")
    edit = next(
        edit for edit in target.sites("insert_unary") if edit.location.endswith("left")
    )
    source = target.apply([edit]).source
    assert source == "def f(a, b):\n    if(not (a))and b:\n        return 1\n"
    assert run(source, "f", False, True) == 1


def test_float_constant_choices():
    target = make("RATE = 0.5\n")
    assert variants(target, "float_constant") == {
        "0.5 -> 1.5": "RATE = 1.5\n",
        "0.5 -> -0.5": "RATE = (-0.5)\n",
        "0.5 -> 0.0": "RATE = 0.0\n",
        "0.5 -> 1.0": "RATE = 1.0\n",
        "0.5 -> 0.25": "RATE = 0.25\n",
    }


def test_float_constant_skips_infinity():
    target = make("BIG = 1e308\n")
    assert "1e308 -> inf" not in variants(target, "float_constant")
    assert set(variants(target, "float_constant")) == {
        "1e308 -> 0.0",
        "1e308 -> 5e+307",
    }


def test_boolean_constant_flips():
    target = make("def f():\n    return True, False\n")
    assert variants(target, "boolean_constant") == {
        "True -> False": "def f():\n    return False, False\n",
        "False -> True": "def f():\n    return True, True\n",
    }


def test_negate_condition_forms():
    source = (
        "def f(x, y):\n"
        "    if x < y:\n"
        "        return 1\n"
        "    elif not x:\n"
        "        return 2\n"
        "    while(x and y):\n"
        "        x -= 1\n"
    )
    target = make(source)
    assert list(variants(target, "negate_condition").values()) == [
        source.replace("if x < y", "if not x < y"),
        source.replace("elif not x", "elif x"),
        source.replace("while(x and y)", "while not (x and y)"),
    ]


SCOPES = """\
import math

LIMIT = 3


def area(radius):
    scale = 2
    return math.pi * radius * scale


def other(value):
    squares = [item * item for item in value]
    return len(squares)
"""


def test_replace_name_stays_in_scope():
    target = make(SCOPES)
    names = {
        edit.argument
        for edit in target.sites("replace_expression")
        if edit.summary.startswith("`radius` ->")
    }
    # Names of `area`, of the module and the builtins the module reads; not
    # `value` or `squares` of `other`, nor the comprehension's `item`.
    assert names == {"LIMIT", "area", "len", "math", "other", "scale"}


def test_replace_attribute_and_call():
    target = make(SCOPES + "\n\ndef tau():\n    return math.tau\n")
    edit = one(target, "replace_expression", "`math.pi` -> `math.tau`")
    assert target.apply([edit]).source.count("math.tau") == 2
    calls = {
        edit.summary
        for edit in target.sites("replace_expression")
        if edit.summary.startswith("`len(squares)` ->")
    }
    # `len(squares)` is the only call whose names `area` can read, so `other`
    # gets no call from it, and `area` has no call of its own to replace.
    assert calls == set()


def test_replace_expression_skips_targets():
    source = "def f(a):\n    a.x = 1\n    del a.y\n    b = a.z + a.w\n    return b\n"
    target = make(source)
    replaced = {
        edit.summary.split(" ->")[0] for edit in target.sites("replace_expression")
    }
    assert replaced == {"`a`", "`a.z`", "`a.w`", "`b`"}


def test_swap_arguments_kinds():
    target = make("def f(a, b):\n    return g(a, b, *a, x=1, y=2, z=2)\n")
    head = "def f(a, b):\n    return "
    assert variants(target, "swap_arguments") == {
        "swap arguments 1 and 2 (`a`, `b`)": head + "g(b, a, *a, x=1, y=2, z=2)\n",
        "swap arguments 4 and 5 (`1`, `2`)": head + "g(a, b, *a, x=2, y=1, z=2)\n",
        "swap arguments 4 and 6 (`1`, `2`)": head + "g(a, b, *a, x=2, y=2, z=1)\n",
    }


SQRT = """\
import math


def lengths(points):
    result = []
    for x, y in points:
        result.append(math.sqrt(x * x + y * y))
    return result
"""


SQRT_SUMMARY = "bind `math.sqrt` to local `math_sqrt` before the loop"


def test_bind_local_math_sqrt():
    target = make(SQRT)
    edit = one(target, "bind_local", SQRT_SUMMARY)
    assert target.apply([edit]).source == (
        "import math\n"
        "\n"
        "\n"
        "def lengths(points):\n"
        "    result = []\n"
        "    math_sqrt = math.sqrt\n"
        "    for x, y in points:\n"
        "        result.append(math_sqrt(x * x + y * y))\n"
        "    return result\n"
    )
    assert [edit.argument for edit in target.sites("bind_local")] == [
        "result.append",
        "math.sqrt",
    ]


def test_bind_local_builtin_and_fresh_name():
    source = (
        "def sizes(groups):\n"
        "    local_len = 0\n"
        "    total = 0\n"
        "    for group in groups:\n"
        "        total += len(group)\n"
        "    return total + local_len\n"
    )
    target = make(source)
    summary = "bind `len` to local `local_len_2` before the loop"
    edit = one(target, "bind_local", summary)
    variant = target.apply([edit]).source
    assert "    local_len_2 = len\n    for group in groups:\n" in variant
    assert "        total += local_len_2(group)\n" in variant
    assert run(variant, "sizes", [[1], [2, 3]]) == 3


@pytest.mark.parametrize(
    "body",
    [
        "    for math in points:\n        math.sqrt(1)\n",
        "    for p in points:\n        math.sqrt = abs\n        math.sqrt(p)\n",
        "    for p in points:\n        import math\n        math.sqrt(p)\n",
    ],
    ids=["root-is-target", "access-assigned", "root-imported"],
)
def test_bind_local_not_offered(body):
    target = make(f"import math\n\n\ndef f(points):\n{body}")
    assert "math.sqrt" not in {edit.argument for edit in target.sites("bind_local")}


def test_bind_local_keeps_changed_occurrence():
    source = SQRT.replace(
        "        result.append(math.sqrt(x * x + y * y))\n",
        "        result.append(math.sqrt(x))\n        result.append(math.sqrt(y))\n",
    )
    target = make(source)
    bind = one(target, "bind_local", SQRT_SUMMARY)
    change = next(
        edit
        for edit in target.sites("replace_expression")
        if edit.summary == "`math.sqrt` -> `result.append`" and edit.line == 7
    )
    variant = target.apply([change, bind]).source
    assert "        result.append(result.append(x))\n" in variant
    assert "        result.append(math_sqrt(y))\n" in variant


def test_loop_to_comprehension_plain():
    target = make(SQRT)
    summary = "build `result` with a list comprehension"
    edit = one(target, "loop_to_comprehension", summary)
    variant = target.apply([edit]).source
    assert variant == (
        "import math\n"
        "\n"
        "\n"
        "def lengths(points):\n"
        "    result = [math.sqrt(x * x + y * y) for x, y in points]\n"
        "    return result\n"
    )
    points = [(3, 4), (6, 8)]
    assert run(variant, "lengths", points) == run(target.source, "lengths", points)


def test_loop_to_comprehension_with_condition():
    source = (
        "def evens(values):\n"
        "    # Only even ones.\n"
        "    out = []  # results\n"
        "    # Walk the values.\n"
        "    for v in values:\n"
        "        if v % 2 == 0:\n"
        "            out.append(v * 10)\n"
        "    return out\n"
    )
    target = make(source)
    edit = one(target, "loop_to_comprehension", "build `out` with a list comprehension")
    variant = target.apply([edit]).source
    assert variant == (
        "def evens(values):\n"
        "    # Only even ones.\n"
        "    # Walk the values.\n"
        "    out = [v * 10 for v in values if v % 2 == 0]  # results\n"
        "    return out\n"
    )
    assert run(variant, "evens", range(7)) == [0, 20, 40, 60]


APPEND = """\
def f(xs):
    out = []
    for x in xs:
        out.append(x)
    return out
"""


@pytest.mark.parametrize(
    "source",
    [
        APPEND.replace("    return out", "    return x"),
        APPEND.replace("append(x)", "append(len(out))"),
        APPEND.replace("    return out", "    else:\n        pass\n    return out"),
        APPEND.replace("out = []", "out = [0]"),
        APPEND.replace("append(x)", "append((yield x))"),
    ],
    ids=["target-read-after", "list-read-inside", "else-clause", "not-empty", "yield"],
)
def test_loop_to_comprehension_not_offered(source):
    assert make(source).sites("loop_to_comprehension") == []


def test_loop_to_comprehension_wraps_iterable():
    source = APPEND.replace("f(xs)", "f(a, b)").replace("in xs", "in a, b")
    variant = make(source).apply(make(source).sites("loop_to_comprehension")).source
    assert "    out = [x for x in (a, b)]\n" in variant


INVARIANT = """\
def scaled(values, scale, norm):
    out = []
    for value in values:
        out.append(value * (scale / norm) + len(values))
    return out
"""


def test_hoist_invariant_exact():
    target = make(INVARIANT)
    assert [edit.summary for edit in target.sites("hoist_invariant")] == [
        "hoist `(scale / norm)` out of the loop as `scale_norm`",
        "hoist `len(values)` out of the loop as `len_values`",
    ]
    edit = target.sites("hoist_invariant")[0]
    variant = target.apply([edit]).source
    assert variant == INVARIANT.replace(
        "    for value", "    scale_norm = scale / norm\n    for value"
    ).replace("(scale / norm)", "scale_norm")
    assert run(variant, "scaled", [1, 2], 3.0, 2.0) == [3.5, 5.0]


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("        norm += 1\n", ["len(values)"]),
        ("        values.append(norm)\n", []),
        ("        scale, norm = norm, scale\n", ["len(values)"]),
        ("        first = values[0] * scale\n", ["(scale / norm)", "len(values)"]),
    ],
    ids=["augmented", "mutated", "swapped", "read"],
)
def test_hoist_invariant_needs_untouched(line, kept):
    source = INVARIANT.replace("        out.append", line + "        out.append")
    hoisted = [edit.argument for edit in make(source).sites("hoist_invariant")]
    assert hoisted == kept


UNIQUE = """\
def unique(items):
    seen = []
    order = []
    for item in items:
        if item not in seen:
            seen.append(item)
            order.append(item)
    return order
"""


def test_list_to_set_exact():
    target = make(UNIQUE)
    edit = one(target, "list_to_set", "make `seen` a set (`seen.append` -> `.add`)")
    variant = target.apply([edit]).source
    assert variant == UNIQUE.replace("seen = []", "seen = set()").replace(
        "seen.append", "seen.add"
    )
    assert run(variant, "unique", [3, 1, 3, 2, 1]) == [3, 1, 2]


def test_list_to_set_not_offered_when_list_read():
    returned = make(UNIQUE.replace("return order", "return seen"))
    assert returned.sites("list_to_set") == []
    assert make(UNIQUE.replace("item not in seen", "item not in seen[1:]")).sites(
        "list_to_set"
    ) == []


REPEATED = """\
def spread(data):
    return max(data) - min(data) if len(data) > 1 else len(data) * len(data)
"""


def test_common_subexpression_exact():
    target = make(REPEATED)
    edit = one(
        target,
        "eliminate_common_subexpression",
        "compute `len(data)` once as `len_data` (3 uses)",
    )
    variant = target.apply([edit]).source
    assert variant == (
        "def spread(data):\n"
        "    len_data = len(data)\n"
        "    return max(data) - min(data) if len_data > 1 else len_data * len_data\n"
    )
    for data in ([], [4], [1, 5, 2]):
        assert run(variant, "spread", data) == run(REPEATED, "spread", data)


@pytest.mark.parametrize(
    "expression",
    [
        "data and len(data) > 1 and len(data) < 5",
        "len(data) + len(data) + data.pop()",
        "len(data) * len(data) if data.clear() else 0",
    ],
    ids=["first-conditional", "mutated-between", "mutated-in-test"],
)
def test_common_subexpression_not_offered(expression):
    target = make(f"def f(data):\n    return {expression}\n")
    assert target.sites("eliminate_common_subexpression") == []


def test_binding_names_independent_of_order():
    source = INVARIANT + "\n\n" + REPEATED
    first, second = make(source), make(source)
    first.sites("eliminate_common_subexpression")
    second.sites("bind_local")
    for operator in ("bind_local", "hoist_invariant", "eliminate_common_subexpression"):
        assert [edit.summary for edit in first.sites(operator)] == [
            edit.summary for edit in second.sites(operator)
        ]
        for edit in first.sites(operator):
            assert first.apply([edit]).source == second.apply([edit]).source


def test_binding_names_differ_for_values():
    source = "def f(a, b, xs):\n    for x in xs:\n        total = a[1] + b + a[1 + b]\n"
    target = make(source)
    local_names = {
        edit.argument: edit.summary.rsplit("`", 2)[-2]
        for edit in target.sites("hoist_invariant")
    }
    assert local_names["a[1] + b"] == "a_b"
    assert local_names["a[1 + b]"] == "a_1_plus_b"
    assert len(set(local_names.values())) == len(local_names)


def test_speed_edits_compose():
    target = make(SQRT)
    genome = target.sites("bind_local") + target.sites("loop_to_comprehension")
    applied = target.apply(genome)
    # The comprehension replaces the loop, so it drops the earlier bindings'
    # rewrites inside it but keeps the statements they inserted.
    assert applied.applied == tuple(genome)
    ast.parse(applied.source)
    points = [(3, 4)]
    assert run(applied.source, "lengths", points) == [5.0]


@pytest.mark.parametrize(
    ("body", "hoisted"),
    [
        (["total += 1 / scale"], ["1 / scale"]),
        (["if scale:", "    total += 1 / scale"], []),
        (["try:", "    total += 1 / scale", "except Exception:", "    pass"], []),
        (["if not total:", "    continue", "total += 1 / scale"], []),
        (["total += 1 / scale", "if not total:", "    continue"], ["1 / scale"]),
        (["total += scale and 1 / scale"], []),
    ],
    ids=["plain", "guarded", "in-try", "after-continue", "before-continue", "and"],
)
def test_hoist_needs_every_iteration(body, hoisted):
    loop = "".join(f"        {line}\n" for line in body)
    source = f"def f(items, scale):\n    total = 0\n    for item in items:\n{loop}"
    found = [edit.argument for edit in make(source).sites("hoist_invariant")]
    assert found == hoisted


def test_hoist_from_while_test():
    source = (
        "def f(items, limit):\n"
        "    while len(items) < limit * 2:\n"
        "        items += [0]\n"
    )
    target = make(source)
    # `items += [0]` assigns `items`, so only `limit * 2` stays invariant.
    edits = target.sites("hoist_invariant")
    assert [edit.argument for edit in edits] == ["limit * 2"]
    # `limit` is taken, so the name spells out the operation.
    assert target.apply(edits).source == (
        "def f(items, limit):\n"
        "    limit_times_2 = limit * 2\n"
        "    while len(items) < limit_times_2:\n"
        "        items += [0]\n"
    )


def test_binding_takes_comment_lines():
    source = (
        "def f(data):\n"
        "    first = 1\n"
        "\n"
        "    # Compare the two counts.\n"
        "    return len(data) * 2 == len(data) + max(data)\n"
    )
    target = make(source)
    (edit,) = target.sites("eliminate_common_subexpression")
    assert target.apply([edit]).source == (
        "def f(data):\n"
        "    first = 1\n"
        "\n"
        "    # Compare the two counts.\n"
        "    len_data = len(data)\n"
        "    return len_data * 2 == len_data + max(data)\n"
    )


def test_binding_after_keyword_drops_parentheses():
    source = "def f(rows, key):\n    for row in rows:\n        yield (key[0]) + row\n"
    target = make(source)
    (edit,) = target.sites("hoist_invariant")
    assert "        yield key_0 + row\n" in target.apply([edit]).source
