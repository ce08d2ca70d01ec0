"""Build the docker backend's image locally, with no registry: debootstrap, then import.

`debootstrap --variant=minbase --include=python3` installs a minimal Debian with
Python into a temporary root folder, from a Debian mirror that the machine's own apt
sources name (or one given explicitly). The folder is then streamed as a tar archive
into the engine's image import, and removed afterwards, also when a step fails or the
build is interrupted. hypothesis is not installed in the image: the docker backend
mounts the same guest package folder the wasm backend uses.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from ._types import SandboxError

#: Image the docker backend runs when none is configured.
DEFAULT_IMAGE = "evolver-sandbox:bookworm"
#: Debian release of the image: its python3 is CPython 3.11, like the lowest Python
#: evolver supports.
DEBIAN_RELEASE = "bookworm"
#: Files and folders of apt's package sources on Debian.
APT_SOURCES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d")
#: The account of uid 65534, which the docker backend runs guests as when the host is
#: root. Debian's base-passwd package calls it nobody.
GUEST_USER = "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"


def find_mirror(sources: Iterable[str] = APT_SOURCES, release: str = DEBIAN_RELEASE) -> str:
    """Return the Debian mirror that the machine's apt sources use for `release`.

    Reads one-line `deb URI SUITE ...` entries (`*.list`) and deb822 stanzas
    (`*.sources`). A mirror listed for `release` itself wins over one listed for
    another release; security and update suites are never used.
    """
    entries = []
    for path in _source_files(sources):
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        parse = _parse_deb822 if path.endswith(".sources") else _parse_one_line
        entries.extend(parse(text))
    main_suites = [
        (uri, suite)
        for uri, suite in entries
        if not re.search(r"-(security|updates|backports|proposed-updates)$", suite)
        and uri.startswith(("http://", "https://", "file:/"))
    ]
    for uri, suite in main_suites:
        if suite == release:
            return uri
    if main_suites:
        return main_suites[0][0]
    raise SandboxError(
        "No Debian mirror was found in the apt sources "
        f"({', '.join(sources)}). Pass the mirror's address with --mirror URL."
    )


def _source_files(sources: Iterable[str]) -> list[str]:
    files = []
    for source in sources:
        if os.path.isdir(source):
            files.extend(sorted(glob.glob(os.path.join(source, "*.list"))))
            files.extend(sorted(glob.glob(os.path.join(source, "*.sources"))))
        elif os.path.isfile(source):
            files.append(source)
    return files


def _parse_one_line(text: str) -> list[tuple[str, str]]:
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        # `deb [ option=value ... ] uri suite component...`
        line = re.sub(r"\[[^\]]*\]", " ", line)
        words = line.split()
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], words[2]))
    return entries


def _parse_deb822(text: str) -> list[tuple[str, str]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                entries.append((uri, suite))
    return entries


def build_image(
    tag: str = DEFAULT_IMAGE,
    *,
    mirror: str | None = None,
    packages: Iterable[str] = (),
    progress: Callable[[str], None] = lambda line: None,
) -> str:
    """Build the image `tag` and return its id.

    `packages` are more Debian packages to include, such as native extensions a
    target needs (python3-numpy). `progress` receives each line debootstrap and the
    import print. Needs root (debootstrap does), debootstrap and a Docker engine.
    """
    import docker

    if shutil.which("debootstrap") is None:
        raise SandboxError(
            "debootstrap is not installed. Install it with: apt-get install debootstrap"
        )
    if os.geteuid() != 0:
        raise SandboxError("debootstrap needs root. Run evolver sandbox build-image as root.")
    mirror = mirror or find_mirror()
    include = ",".join(["python3", *packages])
    client = _client(docker)
    rootfs = Path(tempfile.mkdtemp(prefix="evolver-rootfs-"))
    try:
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={include}",
            DEBIAN_RELEASE,
            str(rootfs),
            mirror,
        ]
        progress(f"Running {' '.join(command)}")
        _stream(command, progress)
        _add_guest_user(rootfs)
        progress(f"Importing {rootfs} as the image {tag}")
        return _import(client, rootfs, tag)
    finally:
        client.close()
        progress(f"Removing {rootfs}")
        remove_rootfs(rootfs)


def _client(docker):
    try:
        # Importing a root folder of some 100 MB takes longer than the default timeout.
        client = docker.from_env(timeout=900)
    except docker.errors.DockerException as error:
        raise SandboxError(f"The Docker client cannot start: {error}") from error
    try:
        client.ping()
    except docker.errors.DockerException as error:
        client.close()
        raise SandboxError(
            f"No Docker engine answers ({error}). Start one, for example with: dockerd &"
        ) from error
    return client


def _stream(command: list[str], progress: Callable[[str], None]) -> None:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    try:
        assert process.stdout is not None
        tail = []
        for line in process.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-20:]
            progress(line)
        code = process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait()
        process.stdout.close()
    if code != 0:
        raise SandboxError(
            f"{command[0]} failed with status {code}; its last lines were:\n" + "\n".join(tail)
        )


def _add_guest_user(rootfs: Path) -> None:
    passwd = rootfs / "etc" / "passwd"
    lines = passwd.read_text().splitlines()
    if not any(line.split(":")[2:3] == ["65534"] for line in lines):
        with open(passwd, "a") as handle:
            handle.write(GUEST_USER)


def _import(client, rootfs: Path, tag: str) -> str:
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    archive = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    try:
        client.api.import_image(
            src=archive.stdout,
            repository=repository,
            tag=version,
            changes=['CMD ["python3"]', "LABEL evolver.image=1"],
            stream_src=True,
        )
    finally:
        assert archive.stdout is not None
        archive.stdout.close()
        code = archive.wait()
    if code != 0:
        raise SandboxError(f"tar failed with status {code} while reading {rootfs}")
    return client.images.get(tag).id


def remove_rootfs(rootfs: Path) -> None:
    """Unmount what debootstrap left mounted below `rootfs`, then remove it.

    An interrupted debootstrap can leave /proc or /sys mounted inside the root
    folder, and removing files through such a mount would reach the host's. So the
    folder is kept, and named in the error, when a mount cannot be undone.
    """
    for mount in sorted(_mounts_below(rootfs), reverse=True):
        subprocess.run(["umount", "--lazy", mount], check=False, capture_output=True)
    remaining = _mounts_below(rootfs)
    if remaining:
        raise SandboxError(
            f"{', '.join(remaining)} are still mounted, so {rootfs} was not removed. "
            "Unmount them and remove the folder by hand."
        )
    shutil.rmtree(rootfs, ignore_errors=True)


def _mounts_below(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    try:
        with open("/proc/self/mounts") as handle:
            points = [line.split()[1] for line in handle]
    except OSError:
        return []
    # /proc/self/mounts writes a space in a path as \040.
    points = [point.replace("\\040", " ") for point in points]
    return [point for point in points if point.startswith(prefix)]
