"""Command line for the image toolchain (what ``.ci/setup-docker`` and the invoke tasks call).

Examples::

    python -m kenning.toolchain base --arch arm64      # offline Debian base image
    python -m kenning.toolchain build train-torch target-amd64
    python -m kenning.toolchain lock target-arm64      # re-resolve requirements.in
    python -m kenning.toolchain list                   # built images, sizes, stale locks
    python -m kenning.toolchain registry               # start a registry on loopback
    python -m kenning.toolchain push compile-tvm       # ... and push there (or --registry R)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from kenning.executors.errors import ImageNotFoundError
from kenning.toolchain.images.base import ARCHS, build_base_image
from kenning.toolchain.images.catalogue import CATALOGUE
from kenning.utils.argparser import ArgumentParser
from kenning.utils.cli import run
from kenning.utils.provenance import work_tree


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m kenning.toolchain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("base", help="build the offline Debian base image")
    base.add_argument("--arch", choices=ARCHS, default="amd64")
    base.add_argument("--force", action="store_true", help="rebuild even if it exists")
    base.add_argument("--verbose", action="store_true", help="show mmdebstrap's output")
    for name, text in (("build", "build images"), ("lock", "regenerate lock files")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("images", nargs="+", choices=sorted(CATALOGUE), metavar="IMAGE")
        sub.add_argument("--base-image", help="BASE_IMAGE (default: the offline base)")
        sub.add_argument(
            "--no-extra-ca",
            dest="extra_ca",
            action="store_false",
            help="do not trust this machine's extra CA certificates (images for real boards)",
        )
        if name == "build":
            sub.add_argument("--no-cache", action="store_true", help="ignore Docker's cache")
            sub.add_argument("--verbose", action="store_true", help="show the whole build log")
    commands.add_parser("list", help="list the catalogue and what is built")
    registry = commands.add_parser(
        "registry", help="start (or --stop) a docker-registry on 127.0.0.1 (build/registry/)"
    )
    registry.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
    registry.add_argument("--stop", action="store_true", help="stop it (its storage stays)")
    push = commands.add_parser("push", help="push built images; print their digests")
    push.add_argument("images", nargs="+", choices=sorted(CATALOGUE), metavar="IMAGE")
    push.add_argument(
        "--registry",
        default="",
        help="HOST[:PORT][/PATH] to push to (default: the local registry, started if needed)",
    )
    return parser


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535)")
    return value


def main(argv: Sequence[str]) -> int:
    """Run one toolchain command."""
    args = _parser().parse_args(argv)
    if args.command == "base":
        base = build_base_image(args.arch, force=args.force, verbose=args.verbose)
        how = "reused" if base.reused else f"built in {base.build_seconds:.0f} s"
        print(f"{base.tag} {base.image_id[7:19]} {base.size_bytes / 1e6:.0f} MB ({how})")
    elif args.command == "build":
        from kenning.toolchain.images.build import build_image
        from kenning.toolchain.images.info import describe

        logs = work_tree() / "build" / "images"
        logs.mkdir(parents=True, exist_ok=True)
        for name in args.images:
            info = build_image(
                name,
                base_image=args.base_image,
                extra_ca=args.extra_ca,
                nocache=args.no_cache,
                verbose=args.verbose,
                log_path=logs / f"{name}.log",
            )
            print(describe(info))
    elif args.command == "lock":
        from kenning.toolchain.images.locks import generate_locks

        for name in args.images:
            for path in generate_locks(name, base_image=args.base_image, extra_ca=args.extra_ca):
                print(f"wrote {path.relative_to(work_tree())}")
    elif args.command == "registry":
        _registry(args.port, args.stop)
    elif args.command == "push":
        from kenning.toolchain.images.localregistry import start_local_registry
        from kenning.toolchain.images.registry import push_images

        target = args.registry or start_local_registry().address
        for name, reference in push_images(args.images, target).items():
            print(f"{name} {reference}")
    else:
        _list()
    return 0


def _registry(port: int, stop: bool) -> None:
    from kenning.toolchain.images.localregistry import start_local_registry, stop_local_registry

    if stop:
        stopped = stop_local_registry()
        print("registry stopped" if stopped else "no registry was running")
        return
    registry = start_local_registry(port=port)
    how = "already running" if registry.reused else "started"
    print(f"{registry.address} ({how}, pid {registry.pid}, storage {registry.root / 'data'})")


def _list() -> None:
    from kenning.executors.dockerclient import session

    with session() as client:
        _list_with(client)


def _list_with(client: Any) -> None:
    from kenning.toolchain.images.info import describe, image_info, stale_locks

    for name, spec in CATALOGUE.items():
        try:
            info = image_info(name, client)
        except ImageNotFoundError:
            print(f"{spec.tag:34} not built   ({spec.description})")
            continue
        stale = stale_locks(name, client)
        note = f"  STALE: {', '.join(stale)} changed since the build" if stale else ""
        print(f"{describe(info)}{note}")


if __name__ == "__main__":
    run(main)
