"""Parallel evaluation in a pool of sandbox worker processes.

Each worker process owns one sandbox and evaluates one candidate at a time. The parent
keeps a hard deadline per evaluation on top of the sandbox's own limits: a worker that
overruns it, or dies, is killed and replaced, so a stuck sandbox never stalls a run. A
candidate whose worker died is retried once on a fresh worker and then recorded as a
crash. Results are returned in the order of the tasks, whatever order workers finish in.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING

from fitness import Evaluation, EvaluationSettings, Fitness, Suite, TestOutcome, evaluate
from sandbox import remove_orphaned_folders

if TYPE_CHECKING:
    from sandbox import BaseSandbox

#: Extra time the parent allows beyond the sandbox's wall-clock limit before it kills a
#: worker; it covers sandbox start-up and scoring.
GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Task:
    """One candidate to evaluate."""

    source: str
    module_name: str
    suite: Suite
    settings: EvaluationSettings
    edits: int


def _worker_main(connection: Connection, sandbox_name: str, warm_memory: int | None) -> None:
    from fitness import warm_sandbox
    from sandbox import create_sandbox

    if warm_memory is not None:
        sandbox = warm_sandbox(warm_memory)
    else:
        sandbox = create_sandbox(sandbox_name)
    try:
        _serve(connection, sandbox)
    except (BrokenPipeError, ConnectionResetError, EOFError, KeyboardInterrupt):
        # The parent was interrupted, or died and closed its end of the pipe. It
        # reports the run itself, so a traceback here would only hide its message.
        pass
    finally:
        sandbox.close()


def _serve(connection: Connection, sandbox: BaseSandbox) -> None:
    connection.send(("ready", None))
    while True:
        message = connection.recv()
        if message is None:
            return
        task: Task = message
        evaluation = evaluate(
            sandbox,
            task.source,
            task.module_name,
            task.suite,
            task.settings,
            edits=task.edits,
        )
        connection.send(("done", evaluation))


def _start_without_sigint(process) -> None:
    # A spawned child inherits the signal mask, and Python does not change it, so a
    # worker started with SIGINT blocked never receives the Ctrl-C that the terminal
    # sends to the whole process group, not even while it imports its modules. The
    # parent alone handles it and stops the workers. A SIGINT that arrives here is
    # pending until the mask is restored, and then delivered to the parent.
    if not hasattr(signal, "pthread_sigmask"):
        process.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Worker:
    def __init__(self, context, sandbox_name: str, warm_memory: int | None) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, sandbox_name, warm_memory), daemon=True
        )
        _start_without_sigint(self.process)
        child.close()
        self.ready = False
        self.task_index: int | None = None
        self.deadline = math.inf

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.connection.send(None)
            except (BrokenPipeError, OSError):
                self.process.kill()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class LocalExecutor:
    """Evaluate tasks on `workers` local processes, each with its own sandbox.

    With `warm_memory` set, the sandbox name must be "wasm" and each worker keeps a
    warm wasm guest (`fitness.warm_sandbox`) started with that memory limit in bytes.
    """

    def __init__(
        self, sandbox_name: str, workers: int, *, warm_memory: int | None = None
    ) -> None:
        if warm_memory is not None and sandbox_name != "wasm":
            raise ValueError(f"the warm mode needs the wasm sandbox, not {sandbox_name!r}")
        self._sandbox_name = sandbox_name
        self._warm_memory = warm_memory
        self._context = multiprocessing.get_context("spawn")
        self._workers = [self._spawn() for _ in range(workers)]
        self.replaced = 0

    def _spawn(self) -> _Worker:
        return _Worker(self._context, self._sandbox_name, self._warm_memory)

    def evaluate_many(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[int, Evaluation], None] | None = None,
    ) -> list[Evaluation]:
        results: list[Evaluation | None] = [None] * len(tasks)
        pending = list(range(len(tasks)))
        retried: set[int] = set()
        while pending or any(w.task_index is not None for w in self._workers):
            self._dispatch(tasks, pending)
            for index, evaluation in self._collect(tasks, pending, retried):
                results[index] = evaluation
                if on_result is not None:
                    on_result(index, evaluation)
        assert all(result is not None for result in results)
        return results  # type: ignore[return-value]

    def _dispatch(self, tasks: Sequence[Task], pending: list[int]) -> None:
        for worker in self._workers:
            if worker.ready and worker.task_index is None and pending:
                index = pending.pop(0)
                task = tasks[index]
                worker.task_index = index
                worker.deadline = (
                    time.monotonic() + task.settings.limits.wall_seconds + GRACE_SECONDS
                )
                worker.connection.send(task)

    def _collect(self, tasks, pending, retried):
        connections = {w.connection: w for w in self._workers}
        sentinels = {w.process.sentinel: w for w in self._workers}
        timeout = max(0.0, min(w.deadline for w in self._workers) - time.monotonic())
        ready = wait([*connections, *sentinels], timeout=min(timeout, 1.0))
        finished = []
        for item in ready:
            worker = connections.get(item) or sentinels.get(item)
            if worker is None or worker not in self._workers:
                continue
            try:
                kind, payload = worker.connection.recv()
            except (EOFError, OSError):
                finished.extend(self._replace(worker, tasks, pending, retried, "died"))
                continue
            if kind == "ready":
                worker.ready = True
            else:
                finished.append((worker.task_index, payload))
                worker.task_index = None
                worker.deadline = math.inf
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.task_index is not None and now > worker.deadline:
                finished.extend(self._replace(worker, tasks, pending, retried, "timeout"))
        return finished

    def _replace(self, worker: _Worker, tasks, pending, retried, reason: str):
        worker.stop(kill=True)
        remove_orphaned_folders()
        self._workers[self._workers.index(worker)] = self._spawn()
        self.replaced += 1
        index = worker.task_index
        if index is None:
            return []
        if reason == "died" and index not in retried:
            retried.add(index)
            pending.insert(0, index)
            return []
        outcome = "timeout" if reason == "timeout" else "worker_crash"
        return [(index, worst_evaluation(tasks[index], outcome, f"the worker {reason}"))]

    def close(self, *, kill: bool = False) -> None:
        """Stop every worker: after its current evaluation, or at once with `kill`."""
        for worker in self._workers:
            worker.stop(kill=kill)
        self._workers = []
        if kill:
            # A killed worker leaves its warm guest's folder behind.
            remove_orphaned_folders()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        # On Ctrl-C or an error the evaluations in flight are abandoned, so waiting
        # for them (up to the sandbox's time limit) would only delay the exit.
        self.close(kill=exc_type is not None)


def worst_evaluation(task: Task, outcome: str, detail: str) -> Evaluation:
    """Return the fitness given to a candidate that could not be evaluated."""
    tests = tuple(
        TestOutcome(name=name, passed=False, error=detail) for name in task.suite.tests
    )
    return Evaluation(
        fitness=Fitness(failures=len(tests), cost=math.inf, edits=task.edits),
        outcome=outcome,
        meter="",
        tests=tests,
        benchmarks={},
        detail=detail,
        stderr_tail="",
        wall_seconds=0.0,
    )
