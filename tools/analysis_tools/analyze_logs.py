"""Plot training curves (loss, mIoU, ...) from mmengine's ``vis_data/scalars.json`` logs.

Each log is a ``scalars.json`` (one JSON object per line, written by mmengine's
``LocalVisBackend``) or a work dir, in which the newest ``*/vis_data/scalars.json`` is used.
Training lines carry ``iter``/``step`` and the losses; validation lines carry ``mIoU``,
``aAcc``, ... and ``step`` (the iteration after which validation ran). Every key gets one
subplot against the iteration, with one curve per log; a summary (last value of the loss
keys, best value of the others and at which iteration) is printed.

Usage::

    python tools/analysis_tools/analyze_logs.py work_dirs/run1 work_dirs/run2/x/vis_data/scalars.json \
        --keys loss mIoU --legend run1 run2 --title demo --out curves.png

Without ``--keys``, ``loss`` and ``mIoU`` are plotted where present. The figure is drawn
with matplotlib's Agg backend and written atomically (temporary file renamed into place).
"""

import argparse
import glob
import json
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')  # files only: no display needed (before pyplot is imported)
import matplotlib.pyplot as plt  # noqa: E402

from segtools.utils.fileio import atomic_open  # noqa: E402

DEFAULT_KEYS = ('loss', 'mIoU')


class LogError(ValueError):
    """A log is missing, is not one JSON object per line, or lacks a requested key."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot curves from mmengine scalars.json logs.')
    parser.add_argument('logs', nargs='+', help='scalars.json files or work dirs (newest */vis_data/scalars.json)')
    parser.add_argument('--keys', nargs='+', help=f'keys to plot (default: those of {list(DEFAULT_KEYS)} present)')
    parser.add_argument('--title', help='title of the figure')
    parser.add_argument('--legend', nargs='+', help='one legend entry per log (default: the log paths)')
    parser.add_argument('--out', help='write the figure here (.png, .pdf, .svg); without it only the summary prints')
    parser.add_argument('--style', default='default', help=f'matplotlib style, one of {plt.style.available}')
    args = parser.parse_args(argv)
    if args.legend is not None and len(args.legend) != len(args.logs):
        parser.error(f'--legend needs one entry per log: {len(args.logs)} logs, {len(args.legend)} entries')
    if args.style != 'default' and args.style not in plt.style.available:
        parser.error(f'--style {args.style!r} is not a matplotlib style; available: {plt.style.available}')
    return args


def resolve_log(path: str) -> str:
    """``path`` itself if it is a file; for a work dir, its newest ``*/vis_data/scalars.json``."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise LogError(f'log {path!r} is neither a scalars.json file nor a work dir')
    found = glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json'))  # mmengine: <work_dir>/<timestamp>/vis_data
    if not found:
        raise LogError(f'work dir {path!r} holds no */vis_data/scalars.json (was the run logged with LocalVisBackend?)')
    return max(found, key=osp.getmtime)


def load_scalars(path: str) -> list[dict]:
    """The JSON objects of a ``scalars.json``, one per non-blank line.

    Raises:
        LogError: A line is not a JSON object (the message gives the file and line number).
    """
    records = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise LogError(f'{path}:{number}: not a JSON line ({err.msg}): {line.strip()[:80]!r}') from err
            if not isinstance(record, dict):
                raise LogError(f'{path}:{number}: expected a JSON object, got {type(record).__name__}')
            records.append(record)
    return records


def series(records: list[dict], key: str, path: str) -> tuple[list[int], list[float]]:
    """``(iterations, values)`` of ``key``, from training lines where it is logged there, else from validation lines.

    Keys such as ``time`` appear in both kinds of line; the training curve is the one wanted.

    Raises:
        LogError: No line has ``key``; the message lists the keys present.
    """
    having = [r for r in records if key in r]
    if not having:
        present = sorted({k for r in records for k in r})
        raise LogError(f'{path}: key {key!r} is not logged; keys present: {present}')
    train = [r for r in having if 'iter' in r]
    chosen = train or having
    xs = [int(r.get('step', r.get('iter', i))) for i, r in enumerate(chosen)]
    return xs, [float(r[key]) for r in chosen]


def summarize(key: str, xs: list[int], ys: list[float]) -> str:
    """The last value of a loss, the best (highest) value of any other key, with its iteration."""
    if 'loss' in key or key in ('time', 'data_time', 'lr'):
        return f'{key}: last {ys[-1]:.4f} at iter {xs[-1]}'
    best = max(range(len(ys)), key=lambda i: ys[i])
    return f'{key}: best {ys[best]:.4f} at iter {xs[best]} (last {ys[-1]:.4f} at iter {xs[-1]})'


def plot(curves: dict, keys: list[str], labels: list[str], title: str | None, style: str, out: str) -> None:
    """One subplot per key, one curve per log, written atomically to ``out``."""
    with plt.style.context(style):
        fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3.2 * len(keys)), squeeze=False)
        for ax, key in zip(axes[:, 0], keys, strict=True):
            for label, log_curves in zip(labels, curves.values(), strict=True):
                if key in log_curves:
                    xs, ys = log_curves[key]
                    ax.plot(xs, ys, label=label, marker='o' if len(xs) < 20 else None)
            ax.set_xlabel('iter')
            ax.set_ylabel(key)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        try:
            with atomic_open(out) as file:
                fig.savefig(file, format=osp.splitext(out)[1][1:].lower() or 'png')
        finally:
            plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    """Run the tool; returns ``{log path: {key: (iterations, values)}}``.

    Raises:
        LogError: A log is missing or malformed, or a key given with ``--keys`` is absent.
    """
    args = parse_args(argv)
    paths = [resolve_log(log) for log in args.logs]
    records = {path: load_scalars(path) for path in paths}
    if args.keys is not None:
        keys = list(args.keys)
    else:
        # Default keys are plotted where logged (a run may not have validated yet); at least one must be.
        keys = [k for k in DEFAULT_KEYS if any(k in r for recs in records.values() for r in recs)]
        if not keys:
            present = sorted({k for recs in records.values() for r in recs for k in r})
            raise LogError(
                f'none of the default keys {list(DEFAULT_KEYS)} is logged in {paths}; pass --keys from {present}'
            )

    curves = {}
    for path, recs in records.items():
        curves[path] = {}
        for key in keys:
            if args.keys is None and not any(key in r for r in recs):
                continue
            curves[path][key] = series(recs, key, path)
    labels = args.legend or paths
    for label, path in zip(labels, paths, strict=True):
        print(f'{label} ({path}):')
        for key, (xs, ys) in curves[path].items():
            print('  ' + summarize(key, xs, ys))
    if args.out:
        plot(curves, keys, labels, args.title, args.style, args.out)
        print(f'Figure written to {args.out}')
    return curves


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except LogError as error:
        sys.exit(f'analyze_logs: {error}')
