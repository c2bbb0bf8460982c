"""Print a config with its ``_base_`` files merged and ``--cfg-options`` applied.

Usage: ``python tools/analysis_tools/print_config.py CONFIG [--cfg-options k=v ...] [--save-path out.py]``
"""

import argparse
import os
import sys

from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_compat import load_config
from segtools.utils.config_overrides import add_cfg_options_argument, apply_cfg_options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Print the whole, merged config.')
    parser.add_argument('config', help='config file path')
    add_cfg_options_argument(parser)
    parser.add_argument('--save-path', help='also write the merged config here (.py, .json or .yaml)')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.path.isfile(args.config):
        print(f'print_config: config file {args.config!r} does not exist', file=sys.stderr)
        return 2
    cfg = load_config(args.config)
    # Printed as written: no log line about dataloaders mixed into the config text.
    apply_cfg_options(cfg, args.cfg_options, fix_workers=False)
    print(cfg.pretty_text)
    if args.save_path:
        suffix = os.path.splitext(args.save_path)[1]
        if suffix not in ('.py', '.json', '.yaml', '.yml'):
            print(f'print_config: --save-path must end in .py, .json or .yaml, got {args.save_path!r}', file=sys.stderr)
            return 2
        tmp = f'{args.save_path}.tmp{suffix}'
        cfg.dump(tmp)
        os.replace(tmp, args.save_path)  # never leave a half-written config behind
    return 0


if __name__ == '__main__':
    run_tool(main)
