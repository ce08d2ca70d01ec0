"""Suite for bm_richards: Martin Richards' operating-system task scheduler simulation.

Richards().run(1) checks itself: it returns True only if the idle task's 10000
steps end with a hold count of 9297 and a queued-packet count of 23246. That run
takes 40 to 55 ms with CPython 3.11 on a shared x86-64 machine, so it is the
benchmark. The tests run the same schedule with a shorter idle task instead, by
swapping in an IdleTaskRec subclass with a smaller count. Their expected counts
and final states were recorded from the unchanged program (pyperformance
1.14.0). The packet queues and task states are also checked against plain lists
and a truth table.
"""

from contextlib import contextmanager

from hypothesis import given
from hypothesis import strategies as st

import bm_richards
from bm_richards import (
    K_DEV,
    K_WORK,
    HandlerTaskRec,
    IdleTaskRec,
    Packet,
    Richards,
    TaskState,
    WorkerTaskRec,
)

#: Hold and queued-packet counts after run(1) with the idle task shortened to
#: the given number of steps, recorded from the unchanged program.
SHORT_RUN_COUNTS = {
    1: (3, 8),
    2: (4, 12),
    3: (5, 16),
    10: (12, 31),
    25: (24, 62),
    100: (95, 239),
    1000: (928, 2322),
}

#: State of tasks 1..6 after run(1) with a 100-step idle task, recorded from the
#: unchanged program: per task its class, priority, the (pending, waiting,
#: holding) flags and its record, with packets as (ident, kind, datum, data).
STATE_AFTER_100_STEPS = (
    ("IdleTask", 0, (False, False, True), {"control": 39835, "count": 0}),
    ("WorkTask", 1000, (False, True, False), {"count": 26, "destination": 3}),
    (
        "HandlerTask",
        2000,
        (False, True, False),
        {
            "device_in": [],
            "work_in": [(2, 1001, 0, (79, 80, 81, 82)), (2, 1001, 0, (87, 88, 89, 90))],
        },
    ),
    (
        "HandlerTask",
        3000,
        (False, True, False),
        {
            "device_in": [
                (6, 1000, 84, (0, 0, 0, 0)),
                (6, 1000, 85, (0, 0, 0, 0)),
                (6, 1000, 86, (0, 0, 0, 0)),
            ],
            "work_in": [],
        },
    ),
    ("DeviceTask", 4000, (True, False, True), {"pending": (3, 1000, 72, (0, 0, 0, 0))}),
    ("DeviceTask", 5000, (False, True, False), {"pending": None}),
)

#: Flags (packet pending, task waiting, task holding) set by each transition.
TRANSITIONS = {
    "packetPending": (True, False, False),
    "waiting": (False, True, False),
    "running": (False, False, False),
    "waitingWithPacket": (True, True, False),
}


@contextmanager
def idle_steps(count):
    """Make Richards.run create idle tasks that stop after ``count`` steps."""

    class ShortIdleTaskRec(IdleTaskRec):
        def __init__(self):
            super().__init__()
            self.count = count

    bm_richards.IdleTaskRec = ShortIdleTaskRec
    try:
        yield
    finally:
        bm_richards.IdleTaskRec = IdleTaskRec


def run_short(count):
    """Run the scheduler with a ``count``-step idle task and return both counts."""
    with idle_steps(count):
        Richards().run(1)
    area = bm_richards.taskWorkArea
    return (area.holdCount, area.qpktCount)


def describe_packet(packet):
    return (packet.ident, packet.kind, packet.datum, tuple(packet.data))


def packets_of(queue):
    """Return the packets linked from ``queue``, each as describe_packet() shows it."""
    packets = []
    while queue is not None:
        packets.append(describe_packet(queue))
        queue = queue.link
    return packets


def describe_record(record):
    # A device's pending packet is one packet whose link field is left stale,
    # while work_in and device_in are queues.
    fields = {}
    for name, value in sorted(vars(record).items()):
        if name == "pending":
            fields[name] = None if value is None else describe_packet(value)
        elif name in ("work_in", "device_in"):
            fields[name] = packets_of(value)
        else:
            fields[name] = value
    return fields


def describe_tasks():
    """Return the state of tasks 1..6 in the form of STATE_AFTER_100_STEPS."""
    states = []
    for task in bm_richards.taskWorkArea.taskTab[1:7]:
        flags = (task.packet_pending, task.task_waiting, task.task_holding)
        record = describe_record(task.handle)
        states.append((type(task).__name__, task.priority, flags, record))
    return tuple(states)


def test_short_run_counts():
    counts = {steps: run_short(steps) for steps in SHORT_RUN_COUNTS}
    assert counts == SHORT_RUN_COUNTS


def test_state_after_short_run():
    run_short(100)
    assert describe_tasks() == STATE_AFTER_100_STEPS


def test_initial_records():
    idle = IdleTaskRec()
    worker = WorkerTaskRec()
    assert (idle.control, idle.count) == (1, 10000)
    assert (worker.destination, worker.count) == (bm_richards.I_HANDLERA, 0)


def test_new_packet():
    packet = Packet(None, bm_richards.I_DEVA, K_DEV)
    fields = (packet.link, packet.ident, packet.kind, packet.datum, packet.data)
    assert fields == (None, bm_richards.I_DEVA, K_DEV, 0, [0, 0, 0, 0])


@given(st.lists(st.integers(min_value=0, max_value=9), max_size=12))
def test_append_to_keeps_order(idents):
    queue = None
    for ident in idents:
        queue = Packet(None, ident, K_WORK).append_to(queue)
    assert [packet[0] for packet in packets_of(queue)] == idents


@given(st.lists(st.booleans(), max_size=12))
def test_handler_queues(kinds_are_work):
    record = HandlerTaskRec()
    for index, is_work in enumerate(kinds_are_work):
        kind = K_WORK if is_work else K_DEV
        packet = Packet(None, index, kind)
        if is_work:
            record.workInAdd(packet)
        else:
            record.deviceInAdd(packet)
    expected_work = [i for i, is_work in enumerate(kinds_are_work) if is_work]
    expected_device = [i for i, is_work in enumerate(kinds_are_work) if not is_work]
    assert [p[0] for p in packets_of(record.work_in)] == expected_work
    assert [p[0] for p in packets_of(record.device_in)] == expected_device


@given(st.lists(st.sampled_from(sorted(TRANSITIONS))), st.booleans())
def test_task_state_predicates(transitions, holding):
    state = TaskState()
    pending, waiting = True, False
    for name in transitions:
        assert getattr(state, name)() is state
        pending, waiting, _ = TRANSITIONS[name]
    state.task_holding = holding

    assert state.isPacketPending() == pending
    assert state.isTaskWaiting() == waiting
    assert state.isTaskHolding() == holding
    assert state.isTaskHoldingOrWaiting() == (holding or (waiting and not pending))
    assert state.isWaitingWithPacket() == (pending and waiting and not holding)


def bench_richards_once():
    assert Richards().run(1) is True
