"""Command line: ``python -m osgan {train,fid,bench,dfad,instruments,sweep} ...``.

Each sub-command lives in the module that owns its concept and exposes two functions:
``configure_parser(parser)`` (add the arguments, with defaults from the module's config dataclass)
and ``run(args) -> int`` (the exit status). This file only dispatches, so that adding a command
never touches another command's code.

Every error a user can cause is one line on stderr, never a traceback. Exit status: 0 done;
2 a usage error (a bad value, a refused folder, missing data: fix the command); 1 a failure at
run time (non-finite losses, permission denied, disk full); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from osgan.util import RunFailed

# command name -> (module, one-line help)
COMMANDS = {
    "train": ("osgan.training", "train a GAN in one or two stages (Table 1, Figure 4)"),
    "fid": ("osgan.evaluate", "FID/KID of a run or of the test split, labelled by feature space"),
    "bench": ("osgan.bench", "time one- vs two-stage steps against Eq. 13-17"),
    "dfad": ("osgan.dfad", "data-free adversarial distillation in one or two stages (Table 2)"),
    "instruments": ("osgan.classifiers", "the classifiers records are measured with (domain "
                    "features, teachers): cached here or frozen in the package; --freeze one"),
    "sweep": ("osgan.sweep_command", "a named grid of runs (objectives x schemes x seeds), "
              "recorded with provenance"),
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default once: argparse's, unless the help states it already (the configs'
    flags show theirs with every profile's value; some defaults need words: results/<name>)."""

    def _get_help_string(self, action):
        help_ = action.help or ""
        return help_ if "(default:" in help_ else super()._get_help_string(action)


def _available():
    for name, (module, help_) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            yield name, module, help_


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m osgan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module, help_ in _available():
        p = sub.add_parser(name, help=help_, description=help_,
                           formatter_class=_HelpFormatter)
        importlib.import_module(module).configure_parser(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except ValueError as e:  # UsageError and every bad value: the user can fix the command
        print(f"osgan {args.command}: error: {e}", file=sys.stderr)
        return 2
    except RunFailed as e:  # the run started and went wrong (non-finite losses, ...)
        print(f"osgan {args.command}: failed: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # permission, disk full, a path that is a file: one line, no traceback
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"osgan {args.command}: failed: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"osgan {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
