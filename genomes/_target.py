"""The target: one Python module being evolved, and the mutable part of it."""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import io
import random
import tokenize
from collections.abc import Mapping, Sequence
from pathlib import Path

import libcst as cst

from ._analysis import Analysis, analyse, function_kinds
from ._apply import apply_genome, compile_quietly
from ._edit import Applied, Edit
from ._errors import GenomeError, TargetError
from ._locations import LocationWeights, sample_weighted
from ._operator_base import BaseOperator
from ._operators import OPERATORS
from ._weights import validate_weights

__all__ = ["Target"]

#: How many known function names an error message lists before "and N more".
_NAMES_SHOWN = 10


class Target:
    """A Python module being evolved, optionally restricted to some functions.

    Build one with `from_file` or `from_source`. `functions` contains
    qualified names as in `__qualname__` (`solve`, `Board.place`,
    `outer.<locals>.inner`). Edits then only touch nodes inside the bodies of
    those functions, but copy operators may still copy statements from
    anywhere in the module. An empty `functions` makes the whole module
    mutable. `ingredients` names other Python files whose statements copy
    operators may copy too. Their edits refer to those files by the path as
    given, so a target built without the same files skips such edits. Sites
    are collected on first use and cached, so sampling is cheap after the
    first call.
    """

    def __init__(
        self,
        *,
        path: Path,
        source: str,
        module: cst.Module,
        functions: tuple[str, ...],
        ingredients: tuple[tuple[str, cst.Module], ...] = (),
    ) -> None:
        self._path = path
        self._source = source
        self._module = module
        self._functions = functions
        self._ingredients = ingredients

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        functions: Sequence[str] | None = None,
        ingredients: Sequence[str | Path] = (),
    ) -> Target:
        """Read the module at `path`, decoding it as Python does (PEP 263)."""
        source = _read_source(Path(path), "target")
        return cls.from_source(
            source, path=str(path), functions=functions, ingredients=ingredients
        )

    @classmethod
    def from_source(
        cls,
        source: str,
        *,
        path: str = "<target>",
        functions: Sequence[str] | None = None,
        ingredients: Sequence[str | Path] = (),
    ) -> Target:
        """Parse `source`; `path` names it in messages, diffs and compile errors.

        `ingredients` are paths of other Python files whose statements join
        the pool that copy operators take from. Raises TargetError when one
        is missing or is not valid Python.
        """
        path = str(path)
        if not isinstance(source, str):
            raise GenomeError(
                f"source must be text (str), got {type(source).__name__}; decode it "
                "first or use Target.from_file."
            )
        if isinstance(functions, str):
            raise GenomeError(
                f"functions must be a sequence of names, got the string {functions!r}; "
                f"write [{functions!r}]."
            )
        for name in functions or ():
            if not isinstance(name, str):
                raise GenomeError(f"function names must be strings, got {name!r}.")
        module = _parse(source, path, "target")

        names = tuple(dict.fromkeys(functions or ()))
        _check_functions(module, names, path)
        extras = _read_ingredients(ingredients)
        return cls(
            path=Path(path),
            source=source,
            module=module,
            functions=names,
            ingredients=extras,
        )

    @property
    def path(self) -> Path:
        """The file the module was read from, or the `path` given to `from_source`."""
        return self._path

    @property
    def source(self) -> str:
        """The original source text."""
        return self._source

    @property
    def module_name(self) -> str:
        """The module's import name: the file name without its suffix."""
        return self._path.stem

    @property
    def functions(self) -> tuple[str, ...]:
        """The qualified names of the functions that edits may touch; () means all."""
        return self._functions

    @property
    def ingredient_files(self) -> tuple[str, ...]:
        """The keys (paths as given) of the other files in the ingredient pool."""
        return tuple(key for key, _ in self._ingredients)

    def sites(self, operator: str | None = None) -> list[Edit]:
        """List the edits that `operator` (or every operator) can make, in fixed order.

        Copy and move operators offer one edit per statement and ingredient
        or destination, so the list can be long: over a million edits each
        for argparse's 2,600 lines. Prefer `has_sites`, `random_edit` or an
        operator's `count` and `sample` there.
        """
        names = list(OPERATORS) if operator is None else [operator]
        return [edit for name in names for edit in _operator(name).sites(self)]

    def has_sites(self) -> bool:
        """Tell whether any operator can edit the target, without building edits.

        Counts each operator's sites from its table of locations, in the
        order of `OPERATORS`, and stops at the first operator that has one.
        """
        return any(operator.count(self) for operator in OPERATORS.values())

    def random_edit(
        self,
        rng: random.Random,
        operators: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        locations: LocationWeights | None = None,
    ) -> Edit | None:
        """Draw an operator among those with sites, then one of its sites.

        `operators` limits the choice to those names, in the given order.
        Without `weights` every such operator is equally likely; with it each
        is drawn in proportion to its weight (see `validate_weights`: 0
        disables an operator, an unnamed one weighs 1). Without `locations`
        the site is drawn uniformly. With it, each site is drawn in proportion
        to the weight of its line (see `LocationWeights`). Returns None when
        no enabled operator has a site. The same `rng` state gives the same
        edit.
        """
        if isinstance(operators, str):
            raise GenomeError(
                f"operators must be a sequence of names, got the string {operators!r}; "
                f"write [{operators!r}]."
            )
        names = list(OPERATORS) if operators is None else list(operators)
        candidates = [_operator(name) for name in names]
        table = None if weights is None else validate_weights(weights)
        if table is not None:
            candidates = [each for each in candidates if table[each.name]]
        candidates = [candidate for candidate in candidates if candidate.count(self)]
        if not candidates:
            return None

        if table is None:
            chosen = rng.choice(candidates)
        else:
            shares = [table[candidate.name] for candidate in candidates]
            chosen = rng.choices(candidates, weights=shares)[0]
        if locations is not None:
            return sample_weighted(chosen, self, rng, locations)
        return chosen.sample(self, rng)

    def apply(self, genome: Sequence[Edit]) -> Applied:
        """Apply the edits of `genome` in order to the original tree.

        Edits whose node is gone are returned in `skipped`. Raises
        InvalidVariant when the result does not compile, and GenomeError for
        an edit with an unknown operator.
        """
        if not genome:
            return Applied(self._source, (), ())
        return apply_genome(self._analysis, genome, str(self._path))

    @functools.cached_property
    def _analysis(self) -> Analysis:
        # Shared with the operators of this package, which read their sites here.
        return analyse(self._module, frozenset(self._functions), self._ingredients)

    def __repr__(self) -> str:
        return f"Target({str(self._path)!r}, functions={self._functions!r})"


def _libcst_version() -> str:
    return importlib.metadata.version("libcst")


def _read_source(path: Path, role: str) -> str:
    """Read a Python file as text, decoding it as Python does (PEP 263)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TargetError(
            f"{role} file {path} not found; pass the path of an existing .py file."
        ) from None
    except OSError as error:
        raise TargetError(
            f"cannot read {role} file {path}: {error.strerror}; "
            "pass the path of a readable .py file."
        ) from error

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        raise TargetError(
            f"cannot decode {role} file {path}: {error}; save it as UTF-8 or "
            "declare its encoding in a coding comment."
        ) from error


def _parse(source: str, path: str, role: str) -> cst.Module:
    try:
        compile_quietly(source, path)
    except (SyntaxError, ValueError, RecursionError) as error:
        where = f" (line {error.lineno})" if isinstance(error, SyntaxError) else ""
        message = error.msg if isinstance(error, SyntaxError) else str(error)
        raise TargetError(
            f"{role} {path} is not valid Python: {message}{where}. "
            "Fix the error before evolving it."
        ) from None
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise TargetError(
            f"libcst {_libcst_version()} cannot parse {role} {path}: "
            f"{error.message} (line {error.raw_line}). Python compiles it, so "
            "it may use syntax newer than this libcst supports; upgrade libcst."
        ) from None


def _read_ingredients(
    paths: Sequence[str | Path],
) -> tuple[tuple[str, cst.Module], ...]:
    if isinstance(paths, (str, Path)):
        raise GenomeError(
            f"ingredients must be a sequence of paths, got {paths!r}; "
            f"write [{str(paths)!r}]."
        )
    extras: dict[str, cst.Module] = {}
    for path in paths:
        key = Path(path).as_posix()
        if key not in extras:
            source = _read_source(Path(path), "ingredient")
            extras[key] = _parse(source, key, "ingredient file")
    return tuple(extras.items())


def _operator(name: str) -> BaseOperator:
    operator = OPERATORS.get(name)
    if operator is None:
        raise GenomeError(
            f"unknown operator {name!r}; the operators are: {', '.join(OPERATORS)}."
        )
    return operator


def _check_functions(module: cst.Module, names: tuple[str, ...], path: str) -> None:
    if not names:
        return
    kinds = function_kinds(module)
    known = [name for name, kind in kinds.items() if kind == "function"]
    for name in names:
        if kinds.get(name) == "class":
            raise TargetError(
                f"{name!r} in {path} is a class, not a function; name its methods "
                f"instead, such as {name + '.' + _first_method(known, name)!r}."
            )
        if name not in kinds:
            raise TargetError(
                f"function {name!r} not found in {path}; {_suggest(name, known)}"
            )


def _first_method(known: list[str], class_name: str) -> str:
    prefix = class_name + "."
    methods = [name[len(prefix) :] for name in known if name.startswith(prefix)]
    return methods[0] if methods else "method"


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    if close:
        return f"did you mean {', '.join(map(repr, close))}?"
    if not known:
        return "the module defines no functions."
    shown = ", ".join(known[:_NAMES_SHOWN])
    more = f" and {len(known) - _NAMES_SHOWN} more" if len(known) > _NAMES_SHOWN else ""
    return (
        f"the functions are: {shown}{more}. Names are qualified, e.g. 'Class.method'."
    )
