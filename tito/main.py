"""The `tito` command line: one subcommand group per file in tito/commands/.

Command files import only the standard library at top level, so `tito --help`
answers at once; heavy imports (nbgrader, nbdev, numpy) happen inside the
handler of the command that needs them.
"""

from __future__ import annotations

import argparse
import pkgutil
import sys
from importlib import import_module

from tito.errors import TitoError


def build_parser() -> argparse.ArgumentParser:
    import tito.commands

    parser = argparse.ArgumentParser(
        prog="tito",
        description="TinyTorch course tool: export modules, run their tests, grade, benchmark.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(tito.commands.__path__), key=lambda i: i.name):
        import_module(f"tito.commands.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "pass_unknown_args", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.unknown_args = unknown  # a command that runs another program passes them on
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(handler(args) or 0)
    except TitoError as exc:
        from tito.console import print_error

        print_error(str(exc))
        return exc.exit_code
    except ModuleNotFoundError as exc:
        from tito.doctor import extra_providing

        # the command's own extra (nbgrader's dependencies are missing too), else the one the module comes with
        extra = getattr(args, "needs_extra", None) or extra_providing(exc.name or "")
        if extra is None:
            raise
        from tito.console import print_error

        command = " ".join(a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("-"))[:60]
        print_error(f"`tito {command}` needs {exc.name}, which comes with the [{extra}] extra: "
                    f"pip install -e '.[{extra}]' in the course repository")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
