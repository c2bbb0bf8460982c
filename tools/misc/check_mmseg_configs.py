"""Check that MMSegmentation 1.x config files run unchanged in segtools.

Usage::

    pip download mmsegmentation==1.2.2 --no-deps -d /tmp/mmseg && unzip -q /tmp/mmseg/*.whl -d /tmp/mmseg
    python tools/misc/check_mmseg_configs.py /tmp/mmseg/mmseg/.mim/configs [--families fcn pspnet ...]
        [--configs FOLDER/NAME.py ...] [--size 64] [--no-train-step] [--json OUT] [--verbose]

DIR is the ``configs/`` folder of an mmseg checkout or wheel. For every leaf config of the
families segtools implements (default: fcn, pspnet, encnet, deeplabv3, upernet, danet, fastfcn,
resnest) it loads the file as ``tools/train.py`` would, with pretrained weights switched off,
builds the runner, pipelines, evaluators, optimizer wrapper and schedulers, and trains one step on
a random batch (see :mod:`segtools.utils.config_check`). It prints one line per failing config,
then the counts and the first config of each kind of error. Exit status: 0 when every config
passed, 1 otherwise, 2 for bad arguments.
"""

import argparse
import collections
import json
import os.path as osp
import warnings

from segtools.errors import ConfigError
from segtools.utils import register_all_modules
from segtools.utils.cli import add_debug_argument, run_tool
from segtools.utils.config_check import check_config, find_configs
from segtools.utils.fileio import atomic_open

# The mmseg config folders of the architectures segtools implements.
FAMILIES = ('fcn', 'pspnet', 'encnet', 'deeplabv3', 'upernet', 'danet', 'fastfcn', 'resnest')


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Check that MMSegmentation configs build and train in segtools')
    parser.add_argument('configs_dir', metavar='DIR', help="an mmseg checkout's or wheel's configs/ folder")
    parser.add_argument('--families', nargs='+', default=list(FAMILIES), help='config folders to check')
    parser.add_argument(
        '--configs',
        nargs='+',
        metavar='FOLDER/NAME.py',
        help='check only these files (relative to DIR) of the families',
    )
    parser.add_argument('--size', type=int, default=64, help='height and width of the random training batch')
    parser.add_argument('--no-train-step', action='store_true', help='build only, do not train a step')
    parser.add_argument('--json', help='write every result to this JSON file')
    parser.add_argument('--verbose', action='store_true', help='print every config and the tracebacks')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.size < 32:
        parser.error(f'--size must be at least 32 (output stride 32 backbones), got {args.size}')
    return args


def error_kind(stage: str, error: str) -> str:
    """What groups failures: the stage and the first line of the error."""
    return f'{stage}: {error.splitlines()[0][:200]}'


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not osp.isdir(args.configs_dir):
        raise ConfigError(f'{args.configs_dir!r} is not a folder (expected the configs/ folder of mmseg)')
    paths = find_configs(args.configs_dir, tuple(args.families))
    if args.configs:
        wanted = {osp.normpath(osp.join(args.configs_dir, name)) for name in args.configs}
        missing = sorted(wanted - {osp.normpath(path) for path in paths})
        if missing:
            raise ConfigError(
                f'--configs: not config files of the families {args.families} in {args.configs_dir}: {missing}'
            )
        paths = [path for path in paths if osp.normpath(path) in wanted]
    if not paths:
        raise ConfigError(f'no config files in {args.configs_dir} for the families {args.families}')
    register_all_modules()
    results, kinds = [], collections.OrderedDict()
    for index, path in enumerate(paths, 1):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            result = check_config(path, size=args.size, train_step=not args.no_train_step)
        results.append(result)
        name = osp.relpath(path, args.configs_dir)
        if result.ok:
            if args.verbose:
                print(f'[{index}/{len(paths)}] ok {name}' + ''.join(f' ({note})' for note in result.notes), flush=True)
            continue
        kind = error_kind(result.failed_stage, result.error)
        kinds.setdefault(kind, []).append(name)
        print(f'[{index}/{len(paths)}] FAILED {name}: {kind}', flush=True)
        if args.verbose:
            print(result.detail, flush=True)

    passed = sum(result.ok for result in results)
    stage = 'built and trained one step' if not args.no_train_step else 'built'
    print(f'\n{passed} of {len(results)} configs {stage} ({", ".join(args.families)})')
    noted = collections.Counter(note for result in results for note in result.notes)
    for note, count in noted.items():
        print(f'  note ({count}): {note}')
    for kind, names in kinds.items():
        print(f'  {len(names)} x {kind}\n      first: {names[0]}')
    if args.json:
        with atomic_open(args.json, 'w') as file:
            json.dump([vars(result) for result in results], file, indent=1)
    return 0 if passed == len(results) else 1


if __name__ == '__main__':
    run_tool(main)
