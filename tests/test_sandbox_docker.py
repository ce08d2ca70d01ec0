"""The docker backend locks each container down and removes it; the image builds locally."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from sandbox import Job, Limits, Outcome, SandboxError, create_sandbox
from sandbox._image import find_mirror, remove_rootfs

LIMITS = Limits(wall_seconds=5, memory_bytes=128 * 1024 * 1024)
docker = pytest.mark.docker


@pytest.fixture(scope="module")
def docker_sandbox():
    try:
        sandbox = create_sandbox("docker")
    except SandboxError as error:
        pytest.skip(f"the docker sandbox cannot start here: {error}")
    yield sandbox
    sandbox.close()


def run(sandbox, code: str, limits: Limits = LIMITS, key: bytes = b""):
    job = Job(files={"main.py": code.encode()}, argv=("main.py",), limits=limits, report_key=key)
    return sandbox.run(job)


def own_containers(sandbox) -> list:
    """Return the containers, running or not, that `sandbox` created."""
    filters = {"label": f"evolver.owner={sandbox._owner}"}
    return sandbox._client.containers.list(all=True, filters=filters)


@docker
def test_plain_program_is_ok(docker_sandbox):
    result = run(docker_sandbox, "print('hello')")
    assert result.outcome is Outcome.OK
    assert result.exit_code == 0
    assert result.stdout == b"hello\n"
    assert result.meter == "seconds"
    assert result.backend == "docker"
    assert own_containers(docker_sandbox) == []


@docker
def test_container_is_locked_down(docker_sandbox):
    code = (
        "import os\n"
        "status = open('/proc/self/status').read()\n"
        "print(os.getuid() != 0)\n"
        "print(status.split('CapEff:')[1].split()[0])\n"
        "print(status.split('NoNewPrivs:')[1].split()[0])\n"
        "print(os.listdir('/sys/class/net'))\n"
        "tmp = os.statvfs('/tmp')\n"
        "print(tmp.f_blocks * tmp.f_frsize)\n"
        "for folder in ('/etc', '/job', '/usr/lib'):\n"
        "    try:\n"
        "        open(folder + '/x', 'w')\n"
        "        print('wrote', folder)\n"
        "    except OSError as error:\n"
        "        print(error.errno)\n"
        "open('/out/x', 'w').write('y')\n"
    )
    lines = run(docker_sandbox, code).stdout.decode().splitlines()
    assert lines[0] == "True"
    assert lines[1] == "0000000000000000"
    assert lines[2] == "1"
    assert lines[3] == "['lo']"
    assert int(lines[4]) == 32 * 1024 * 1024
    assert lines[5:8] == ["30", "30", "30"]  # EROFS


@docker
def test_cgroup_limits_are_set(docker_sandbox):
    code = (
        "for path in ('/sys/fs/cgroup/pids/pids.max', '/sys/fs/cgroup/pids.max',\n"
        "             '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.max'):\n"
        "    try:\n"
        "        print(open(path).read().strip())\n"
        "    except OSError:\n"
        "        pass\n"
    )
    lines = run(docker_sandbox, code).stdout.decode().split()
    assert lines == [str(LIMITS.processes), str(LIMITS.memory_bytes)]


@docker
def test_key_is_read_once_from_stdin(docker_sandbox):
    key = secrets.token_bytes(59)
    code = "import os\nprint(os.read(0, 100).hex())\nprint(os.read(0, 100).hex())\n"
    result = run(docker_sandbox, code, key=key)
    assert result.stdout.split() == [key.hex().encode()]
    assert result.key_requests == 1


@docker
def test_infinite_loop_times_out(docker_sandbox):
    started = time.monotonic()
    result = run(docker_sandbox, "while True:\n    pass\n", Limits(wall_seconds=2))
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 6
    assert own_containers(docker_sandbox) == []


@docker
def test_memory_growth_is_killed(docker_sandbox):
    code = "chunks = []\nwhile True:\n    chunks.append(b'x' * 10**6)\n"
    result = run(docker_sandbox, code)
    assert result.outcome is Outcome.MEMORY


@docker
def test_fork_bomb_is_bounded(docker_sandbox):
    code = (
        "import os\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        pass\n"
    )
    started = time.monotonic()
    result = run(docker_sandbox, code, Limits(wall_seconds=3, processes=32))
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 8
    assert own_containers(docker_sandbox) == []


@docker
def test_huge_output_is_cut(docker_sandbox):
    limits = Limits(output_bytes=10_000, wall_seconds=5)
    result = run(docker_sandbox, "while True:\n    print('x' * 1000)\n", limits)
    assert result.outcome is Outcome.OUTPUT
    assert len(result.stdout) == 10_000


@docker
def test_big_file_is_cut(docker_sandbox):
    limits = Limits(output_bytes=100_000, wall_seconds=5)
    code = "f = open('/out/big', 'wb')\nwhile True:\n    f.write(b'x' * 65536)\n    f.flush()\n"
    result = run(docker_sandbox, code, limits)
    assert result.outcome is Outcome.OUTPUT


@docker
def test_host_loopback_is_unreachable(docker_sandbox):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    print('connected')\n"
            "except OSError:\n"
            "    print('refused')\n"
        )
        result = run(docker_sandbox, code)
        with pytest.raises(socket.timeout):
            listener.accept()
    assert result.stdout == b"refused\n"


@docker
def test_interrupt_removes_container(docker_sandbox):
    # A real SIGINT, as from Ctrl-C: it also interrupts the wait on the engine.
    main = threading.main_thread().ident
    timer = threading.Timer(1.5, signal.pthread_kill, args=(main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(docker_sandbox, "import time\ntime.sleep(30)\n", Limits(wall_seconds=30))
    finally:
        timer.cancel()
    assert own_containers(docker_sandbox) == []


@docker
def test_leftover_of_dead_owner_is_removed(docker_sandbox):
    client = docker_sandbox._client
    ended = subprocess.Popen(["true"])
    ended.wait()
    name = f"evolver-test-leftover-{secrets.token_hex(4)}"
    client.api.create_container(
        docker_sandbox.image,
        ["true"],
        name=name,
        labels={"evolver.owner": f"{ended.pid}:0", "evolver.host": socket.gethostname()},
    )
    try:
        sandbox = create_sandbox("docker")
        sandbox.close()
        names = [c.name for c in client.containers.list(all=True, filters={"name": name})]
        assert names == []
    finally:
        for container in client.containers.list(all=True, filters={"name": name}):
            container.remove(force=True)


@docker
def test_missing_image_names_build_command(docker_sandbox):
    with pytest.raises(SandboxError, match="evolver sandbox build-image --tag evolver-no-such:image"):
        create_sandbox("docker", image="evolver-no-such:image")


def test_absent_engine_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(SandboxError, match="No Docker engine answers"):
        create_sandbox("docker")


def test_mirror_from_one_line_sources(tmp_path: Path):
    sources = tmp_path / "sources.list"
    sources.write_text(
        "# a comment\n"
        "deb http://security.local/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://other.local/debian trixie main\n"
        "deb http://main.local/debian bookworm main contrib\n"
    )
    assert find_mirror([str(sources)]) == "http://main.local/debian"


def test_mirror_from_deb822_sources(tmp_path: Path):
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "debian.sources").write_text(
        "Types: deb\n"
        "URIs: http://main.local/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
        "\n"
        "Types: deb\n"
        "URIs: http://security.local/debian-security\n"
        "Suites: bookworm-security\n"
    )
    (folder / "off.list.disabled").write_text("deb http://off.local/debian bookworm main\n")
    assert find_mirror([str(folder)]) == "http://main.local/debian"


def test_missing_mirror_asks_for_flag(tmp_path: Path):
    sources = tmp_path / "sources.list"
    sources.write_text("deb http://security.local/debian-security bookworm-security main\n")
    with pytest.raises(SandboxError, match="--mirror URL"):
        find_mirror([str(sources)])


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_rootfs_mounts_are_undone(tmp_path: Path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "proc").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(rootfs / "proc")], check=True)
    (rootfs / "proc" / "file").write_text("inside the mount")
    remove_rootfs(rootfs)
    assert not rootfs.exists()


@docker
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("debootstrap") is None,
                    reason="building an image needs root and debootstrap")
def test_failed_build_cleans_up(docker_sandbox, tmp_path: Path, monkeypatch):
    from evolver._errors import EvolverError
    from evolver._sandbox_command import add_sandbox_parser, sandbox_command

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    parser = argparse.ArgumentParser(prog="evolver")
    add_sandbox_parser(parser.add_subparsers(dest="command"))
    arguments = parser.parse_args(
        ["sandbox", "build-image", "--tag", "evolver-test:never", "--mirror",
         f"file://{tmp_path}/no-mirror", "--json"]
    )
    with pytest.raises(EvolverError, match="evolver-test:never was not built"):
        sandbox_command(arguments)
    assert list(tmp_path.iterdir()) == []


@docker
def test_eval_command_on_docker(docker_sandbox, capsys):
    from evolver.cli import main

    root = Path(__file__).resolve().parent.parent / "examples" / "stats"
    code = main(
        ["eval", str(root / "stats.py"), "--suite", str(root / "test_stats.py"),
         "--sandbox", "docker", "--max-examples", "5", "--json"]
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0
    assert captured.err == ""
    assert report["backend"] == "docker"
    assert report["meter"] == "seconds"
    assert report["outcome"] == "ok"
    assert report["failures"] == 0
    assert report["cost"] > 0
