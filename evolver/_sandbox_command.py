"""`evolver sandbox build-image`: make the docker backend's image without a registry."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console

from sandbox import SandboxError
from sandbox._image import APT_SOURCES, DEBIAN_RELEASE, DEFAULT_IMAGE, build_image, find_mirror

from ._errors import EXIT_OK, EvolverError

SANDBOX_EXAMPLES = f"""\
examples:
  evolver sandbox build-image
  evolver sandbox build-image --tag evolver-sandbox:numpy --suite-packages python3-numpy
  evolver sandbox build-image --mirror file:///srv/debian-mirror --json
  evolver eval mod.py --suite test_mod.py --sandbox docker --image {DEFAULT_IMAGE}
"""


BUILD_DESCRIPTION = f"""\
Build the docker sandbox's image without any registry:

  debootstrap --variant=minbase --include=python3 {DEBIAN_RELEASE} ROOTFS MIRROR

into a temporary root folder, then docker import it. MIRROR is the Debian mirror
that this machine's apt sources name ({", ".join(APT_SOURCES)}),
unless --mirror gives another. hypothesis is not in the image: the docker sandbox
mounts the guest packages read-only. Needs root, debootstrap and a running Docker
engine, and takes a few minutes. The root folder is removed afterwards, also when
a step fails or on Ctrl-C.
"""


class ImageBuildError(EvolverError):
    """The image could not be built: a tool, root, the engine or a mirror is missing."""


def add_sandbox_parser(commands) -> None:
    """Add `sandbox` and its `build-image` command to the CLI's subparsers."""
    from .cli import EXIT_CODES_HELP

    sandbox = commands.add_parser(
        "sandbox",
        help="set up sandbox backends",
        description="Set up what the sandbox backends need on this machine.",
        epilog=SANDBOX_EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = sandbox.add_subparsers(dest="sandbox_action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build-image",
        help="build the docker sandbox's image locally, without a registry",
        description=BUILD_DESCRIPTION,
        epilog=SANDBOX_EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument(
        "--tag", default=DEFAULT_IMAGE, help=f"name of the image (default {DEFAULT_IMAGE})"
    )
    build.add_argument(
        "--mirror",
        help="Debian mirror address (default: the one in this machine's apt sources)",
    )
    build.add_argument(
        "--suite-packages",
        action="append",
        default=[],
        metavar="PACKAGES",
        help=(
            "more Debian packages the target or suite needs, comma-separated, such as "
            "native extensions (python3-numpy); repeatable"
        ),
    )
    build.add_argument("--json", action="store_true", help="print one JSON object")


def sandbox_command(arguments) -> int:
    """Run `evolver sandbox ACTION`."""
    assert arguments.sandbox_action == "build-image"
    packages = [
        name.strip() for item in arguments.suite_packages for name in item.split(",")
    ]
    packages = [name for name in packages if name]
    try:
        mirror = arguments.mirror or find_mirror()
        progress, finish = _progress(quiet=arguments.json)
        try:
            image_id = build_image(
                arguments.tag, mirror=mirror, packages=packages, progress=progress
            )
        finally:
            finish()
    except SandboxError as error:
        raise ImageBuildError(f"The image {arguments.tag} was not built: {error}") from error

    result = {"image": arguments.tag, "id": image_id, "mirror": mirror, "packages": packages}
    if arguments.json:
        print(json.dumps(result))
    else:
        print(f"Built the image {arguments.tag} ({image_id[:19]}) from {mirror}.")
    return EXIT_OK


def _progress(*, quiet: bool):
    """Return `(show(line), finish())` for debootstrap's progress lines."""
    console = Console(stderr=True)
    if quiet:
        return (lambda line: None), (lambda: None)
    if not console.is_terminal:
        # A log (CI) keeps every line; a terminal shows the latest under a spinner.
        return (lambda line: print(line, file=sys.stderr, flush=True)), (lambda: None)
    status = console.status("Building the image")
    status.start()

    def show(line: str) -> None:
        status.update(f"Building the image: {line[:100]}")

    return show, status.stop
