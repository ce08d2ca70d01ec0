"""Plain Python values as JSON data, and back.

The host imports this module as `fitness.codec`, and the guest runs it as a job
file next to `differential.py`, so both sides read and write the same form. It
uses only the standard library and works on CPython 3.11 or newer.

A value is encoded as JSON data that keeps its exact type:

- None, bool and str are themselves, and so is an int unless it is too long
  for JSON readers, which limit integers to 4300 digits. Such an int is
  `{"int": hex}`.
- A float is `{"float": repr(x)}`, so nan, inf and -0.0 survive the trip.
- bytes are `{"bytes": hex}`, a tuple is `{"tuple": [...]}`, a list is a JSON
  list, and a dict is `{"dict": [[key, value], ...]}` in insertion order.
- A set or frozenset is `{"set": [...]}` or `{"frozenset": [...]}`.
- In results only, any other object is `{"object": ["module.qualname", text]}`,
  where the text is its repr with memory addresses removed.

Inside the guest this module is imported before the harness guard is armed,
so the guard's snapshot watches its functions. It keeps no module-level data
that its functions read at run time, because the guard does not watch such
data and a candidate could change it.
"""

import math
import re


class NotPlainError(ValueError):
    """A value contains something that is not plain data."""


def encode(value, *, plain=True, depth=0):
    """Encode `value` as JSON data; see the module docstring for the form.

    With `plain`, anything but the plain types raises NotPlainError. Without
    it, other objects are encoded by type name and repr, as results may be.
    """
    # Deeper values are almost always cyclic, and decoding them would exhaust
    # the guest's stack. The limit is a literal because the guard does not
    # watch module-level numbers.
    if depth > 60:
        raise NotPlainError("the value is nested more than 60 levels deep")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        # 13,000 bits are about 3,900 decimal digits.
        return value if value.bit_length() <= 13000 else {"int": format(value, "x")}
    if kind is float:
        return {"float": float.__repr__(value)}
    if kind is bytes:
        return {"bytes": value.hex()}
    inner = depth + 1
    if kind is list:
        return [encode(item, plain=plain, depth=inner) for item in value]
    if kind is tuple:
        return {"tuple": [encode(item, plain=plain, depth=inner) for item in value]}
    if kind is dict:
        pairs = [
            [encode(k, plain=plain, depth=inner), encode(v, plain=plain, depth=inner)]
            for k, v in value.items()
        ]
        return {"dict": pairs}
    if kind is set or kind is frozenset:
        items = [encode(item, plain=plain, depth=inner) for item in value]
        return {kind.__name__: items}
    if plain:
        raise NotPlainError("a value of type %s is not plain data" % kind.__qualname__)
    return {"object": [_type_name(kind), _clean_repr(value)]}


def _type_name(kind):
    return "%s.%s" % (kind.__module__, kind.__qualname__)


def _clean_repr(value):
    try:
        text = repr(value)
    except BaseException as error:  # noqa: BLE001 - a candidate's repr may raise
        text = "<repr raised %s>" % type(error).__name__
    if type(text) is not str:
        text = "<repr returned %s>" % type(text).__name__
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)[:1000]


def decode(data):
    """Rebuild the value that `encode` turned into `data`.

    Raises ValueError for data that `encode` cannot have written. An encoded
    object decodes to a text of its type name and repr, since the object
    itself cannot be rebuilt.
    """
    if data is None or type(data) in (bool, str, int):
        return data
    if type(data) is list:
        return [decode(item) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise ValueError("%r is not encoded plain data" % (data,))
    ((tag, content),) = data.items()
    if tag == "int":
        return int(content, 16)
    if tag == "float":
        return float(content)
    if tag == "bytes":
        return bytes.fromhex(content)
    if tag == "tuple":
        return tuple(decode(item) for item in content)
    if tag == "dict":
        return {decode(key): decode(value) for key, value in content}
    if tag == "set":
        return {decode(item) for item in content}
    if tag == "frozenset":
        return frozenset(decode(item) for item in content)
    if tag == "object":
        return "<%s %s>" % tuple(content)
    raise ValueError("unknown tag %r in encoded data" % (tag,))


def same(first, second):
    """Tell whether two encoded values are the same data.

    Types must match exactly, so 1, 1.0 and True all differ. Floats are equal
    when they compare equal or are both nan. Lists and tuples compare in
    order, sets and dicts regardless of order, as Python compares them.
    Objects compare by type name and repr.
    """
    if type(first) is not type(second):
        return False
    if type(first) is list:
        return len(first) == len(second) and all(map(same, first, second))
    if type(first) is not dict:
        return first == second
    if list(first) != list(second):
        return False
    ((tag, left),) = first.items()
    right = second[tag]
    if tag == "float":
        x, y = float(left), float(right)
        return x == y or (math.isnan(x) and math.isnan(y))
    if tag == "tuple":
        return same(left, right)
    if tag in ("set", "frozenset", "dict"):
        return _same_unordered(left, right)
    return left == right


def _same_unordered(left, right):
    if len(left) != len(right):
        return False
    unmatched = list(right)
    for item in left:
        match = next(
            (i for i, other in enumerate(unmatched) if same(item, other)), None
        )
        if match is None:
            return False
        del unmatched[match]
    return True


def describe(data, limit=300):
    """Return a short Python-like text of an encoded value, for messages."""
    try:
        text = repr(decode(data))
    except (ValueError, TypeError):
        text = repr(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."
