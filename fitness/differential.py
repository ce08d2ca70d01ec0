"""Draw inputs for a module's functions, or call the functions on given inputs.

This file runs inside the guest, on CPython 3.11 or newer, with only the standard
library and hypothesis, as `harness.py` does. It is not imported by the host.

The job folder contains `config.json`, this script, `guard.py`, `codec.py` and the
module as `site-packages/<module>.py`. `config["mode"]` selects what it does:

- "draw" runs on the original. It wraps each listed function of the module so that
  the calls the suite's tests make record their arguments, runs the tests (the suite
  is under `suite/`) with the configured seed and examples, and then draws more
  arguments with hypothesis `st.from_type` for each function whose parameters without
  defaults are all annotated. It reports one `input` event per distinct input and a
  `note` event for each function it could not cover, or not cover fully. With
  `config["passing_tests_only"]` it keeps only the calls of tests that pass.
- "replay" reads the inputs from `inputs.json`, then calls each function on its input
  in order and reports one `result` event per input: the value returned (or the
  first 10,000 values a generator yields) and the arguments after the call, or
  the type of the exception raised. A result whose
  encoding is longer than `digest_above` characters is reported as its SHA-256.

Both modes take the report key as the harness does, arm `guard.py` before the module
is imported, and write an authenticated report: `start`, the mode's events, then
`done`. An `import_error` or `tampered` event ends the report early.
"""

import hashlib
import json
import os
import sys
import types


def main() -> int:
    urandom = os.urandom
    job = os.environ["EVOLVER_JOB"]
    sys.path.insert(0, job)
    import codec
    import guard

    if os.environ.get("EVOLVER_KEY_SOURCE") == "stdin":
        key = _read_key(guard.KEY_LENGTH)
    else:
        # The key must be the first request of its size: the host flags any later one.
        key = urandom(guard.KEY_LENGTH)
    out = os.environ["EVOLVER_OUT"]
    with open(os.path.join(job, "config.json")) as handle:
        config = json.load(handle)
    inputs = []
    if config["mode"] == "replay":
        inputs = _read_inputs(os.path.join(job, "inputs.json"), codec)
    report = open(os.path.join(out, "report.jsonl"), "w")
    emit = guard.make_reporter(report, key)
    del key

    sys.path[:1] = [os.path.join(job, "site-packages"), os.path.join(job, "suite")]
    hypothesis = _configure_hypothesis(config)
    module_path = os.path.join(job, "site-packages", config["module"] + ".py")
    check, _ = guard.arm(module_path)
    emit("start")

    module = _import_module(config["module"], emit)
    if module is not None:
        if config["mode"] == "draw":
            _draw(module, config, hypothesis, codec, emit, check)
        else:
            _replay(module, inputs, config, codec, emit, check)
    emit("done")
    report.close()
    return 0


def _read_key(length: int) -> bytes:
    """Read the report key from stdin, then close stdin, as the harness does."""
    # NOTE: this repeats the harness's key handover for the docker and process
    # backends. Both scripts should take it from one function of guard.py.
    key = b""
    while len(key) < length:
        chunk = os.read(0, length - len(key))
        if not chunk:
            break
        key += chunk
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    if len(key) != length:
        raise SystemExit("received %d of %d key bytes on stdin" % (len(key), length))
    return key


def _read_inputs(path: str, codec) -> list:
    with open(path, encoding="utf-8") as handle:
        entries = json.load(handle)
    return [(entry["function"], codec.decode(entry["arguments"])) for entry in entries]


def _configure_hypothesis(config: dict):
    import hypothesis
    import hypothesis.strategies
    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile(
        "evolver-differential",
        database=None,
        deadline=None,
        max_examples=int(config.get("max_examples", 20)),
        derandomize=False,
        print_blob=False,
        # The explain phase traces the test with sys.monitoring, which the guard
        # takes away from the guest.
        phases=[p for p in Phase if p is not Phase.explain],
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("evolver-differential")
    return hypothesis


def _import_module(name: str, emit):
    import importlib

    try:
        return importlib.import_module(name)
    except BaseException as error:  # noqa: BLE001 - the module may raise anything
        emit("import_error", origin="target", error=_describe(error))
        return None


def _draw(module, config: dict, hypothesis, codec, emit, check) -> None:
    functions = {}
    for name in config["functions"]:
        function = getattr(module, name, None)
        if type(function) is types.FunctionType:
            functions[name] = function
        else:
            emit(
                "note",
                function=name,
                reason="the module has no plain function of that name",
            )
    limit = int(config["recorded_inputs"])
    value_limit = int(config["value_limit"])
    recorded = {name: {} for name in functions}
    # The calls of the running test, kept once it ends (if it passed, where only
    # the calls of passing tests count).
    pending = {name: {} for name in functions}
    only_passing = bool(config.get("passing_tests_only"))
    skipped = {name: 0 for name in functions}

    def record(name, arguments):
        if len(recorded[name]) >= limit or len(pending[name]) >= limit:
            return
        try:
            data = codec.encode(arguments)
        except (codec.NotPlainError, ValueError, RecursionError):
            skipped[name] += 1
            return
        text = json.dumps(data, sort_keys=True)
        if len(text) > value_limit:
            skipped[name] += 1
            return
        pending[name].setdefault(text, data)

    def end_test(passed):
        for name, calls in pending.items():
            if passed or not only_passing:
                for text, data in calls.items():
                    if len(recorded[name]) < limit:
                        recorded[name].setdefault(text, data)
            calls.clear()

    for name, function in functions.items():
        setattr(module, name, _recorder(name, function, record))
    _run_suite(config, hypothesis, emit, end_test)
    for name, function in functions.items():
        setattr(module, name, function)

    drawn = {name: {} for name in functions}
    if int(config["drawn_inputs"]) > 0:
        for name, function in functions.items():
            drawn[name] = _draw_arguments(name, function, config, hypothesis, codec, emit)
    problem = check()
    if problem is not None:
        emit("tampered", reason=problem)
        return
    for name in functions:
        for data in recorded[name].values():
            emit("input", function=name, origin="suite", arguments=data)
        if skipped[name]:
            reason = (
                "%d calls by the suite passed values that are not plain data or are"
                " too large" % skipped[name]
            )
            emit("note", function=name, reason=reason)
        for text, data in drawn[name].items():
            if text not in recorded[name]:
                emit("input", function=name, origin="drawn", arguments=data)


def _recorder(name: str, function, record):
    import functools

    @functools.wraps(function)
    def recorder(*args, **kwargs):
        # The arguments are recorded before the call, which may change them.
        record(name, [list(args), dict(kwargs)])
        return function(*args, **kwargs)

    return recorder


def _run_suite(config: dict, hypothesis, emit, end_test) -> None:
    path = os.path.join(os.environ["EVOLVER_JOB"], "suite", config["suite"])
    with open(path, encoding="utf-8") as handle:
        code = compile(handle.read(), path, "exec")
    name = os.path.splitext(os.path.basename(path))[0]
    suite = types.ModuleType(name)
    suite.__file__ = path
    sys.modules[name] = suite
    try:
        exec(code, suite.__dict__)
    except BaseException as error:  # noqa: BLE001 - the suite may raise anything
        emit("import_error", origin="suite", error=_describe(error))
        return
    seed = int(config["seed"])
    for test_name, test in list(vars(suite).items()):
        if not test_name.startswith("test_") or not callable(test):
            continue
        if getattr(test, "is_hypothesis_test", False):
            test = hypothesis.seed(seed)(test)
        try:
            test()
        except BaseException:  # noqa: BLE001 - only whether it passed matters here
            end_test(False)
        else:
            end_test(True)


def _draw_arguments(name: str, function, config: dict, hypothesis, codec, emit) -> dict:
    """Draw arguments from the annotations of `function`: encoded data by JSON text."""
    import inspect
    import typing

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    try:
        hints = typing.get_type_hints(function)
        signature = inspect.signature(function)
    except Exception as error:  # noqa: BLE001 - annotations may name anything
        emit(
            "note",
            function=name,
            reason="its annotations cannot be read: " + _describe(error),
        )
        return {}
    positional, keywords = [], {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name not in hints:
            if parameter.default is parameter.empty:
                emit(
                    "note",
                    function=name,
                    reason="parameter %s has no annotation, so no inputs were drawn"
                    % parameter.name,
                )
                return {}
            continue
        strategy = st.from_type(hints[parameter.name])
        if parameter.kind is parameter.KEYWORD_ONLY:
            keywords[parameter.name] = strategy
        else:
            positional.append(strategy)

    drawn = {}
    value_limit = int(config["value_limit"])

    @settings(
        max_examples=int(config["drawn_inputs"]),
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(st.tuples(*positional), st.fixed_dictionaries(keywords)))
    def collect(arguments):
        args, kwargs = arguments
        try:
            data = codec.encode([list(args), kwargs])
        except (codec.NotPlainError, ValueError, RecursionError):
            return
        text = json.dumps(data, sort_keys=True)
        if len(text) <= value_limit:
            drawn.setdefault(text, data)

    try:
        hypothesis.seed(int(config["seed"]))(collect)()
    except Exception as error:  # noqa: BLE001 - strategies fail in many ways
        emit(
            "note",
            function=name,
            reason="hypothesis could not draw its arguments: " + _describe(error),
        )
    return drawn


def _replay(module, inputs: list, config: dict, codec, emit, check) -> None:
    digest_above = int(config["digest_above"])
    for index, (name, arguments) in enumerate(inputs):
        args, kwargs = arguments
        fields = _call(module, name, args, kwargs, codec)
        problem = check()
        if problem is not None:
            emit("tampered", reason=problem)
            return
        text = json.dumps(fields, sort_keys=True)
        if len(text) > digest_above:
            fields = {
                "digest": hashlib.sha256(text.encode()).hexdigest(),
                "length": len(text),
            }
        emit("result", index=index, **fields)


def _call(module, name: str, args: list, kwargs: dict, codec) -> dict:
    """Call one function and describe what it did, as `result` event fields."""
    import itertools

    key = "returned"
    try:
        value = getattr(module, name)(*args, **kwargs)
        if type(value) is types.GeneratorType:
            # A generator's values are its behaviour, so they are compared, up to
            # a bound that keeps an endless generator from stalling the replay.
            key, value = "yielded", list(itertools.islice(value, 10000))
    except BaseException as error:  # noqa: BLE001 - a candidate may raise anything
        kind = type(error)
        return {"raised": "%s.%s" % (kind.__module__, kind.__qualname__)}
    try:
        return {
            key: codec.encode(value, plain=False),
            "arguments": codec.encode([args, kwargs], plain=False),
        }
    except (codec.NotPlainError, ValueError, RecursionError) as error:
        return {"unencodable": _describe(error)}


def _describe(error: BaseException) -> str:
    text = "%s: %s" % (type(error).__name__, error)
    return text[:500]


if __name__ == "__main__":
    sys.exit(main())
