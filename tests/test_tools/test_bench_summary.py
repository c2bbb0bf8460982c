"""tools/analysis_tools/bench_summary.py: one table of the ratios the three benchmarks measured."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location('bench_summary', REPO / 'tools' / 'analysis_tools' / 'bench_summary.py')
bench_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_summary)


def op(name, variant, shape, seconds):
    return dict(op=name, variant=variant, shape=shape, forward_s=seconds / 2, forward_backward_s=seconds)


def test_rows_pair_each_variant_with_its_baseline():
    ops = dict(
        results=[
            op('encoding', 'ours', [2, 8, 4, 4, 3], 0.002),
            op('encoding', 'naive', [2, 8, 4, 4, 3], 0.010),
            op('encoding', 'bmm', [2, 8, 4, 4, 3], 0.001),
            op('sync_bn', 'ours-relu', [2, 4, 8, 8], 0.003),
            op('sync_bn', 'torch-bn-relu', [2, 4, 8, 8], 0.006),
        ]
    )
    amp = [
        dict(
            config='configs/x/enc.py',
            fp32=dict(train=4.0, predict=1.0, peak_gib=3.0),
            bf16=dict(train=2.0, predict=0.5, peak_gib=2.0),
            train_speedup=2.0,
            predict_speedup=2.0,
        )
    ]
    tta = [
        dict(variant='loop', seconds=3.0, speedup=1.0, equal_labels=1.0),
        dict(variant='batched wb=8', seconds=2.0, speedup=1.5, equal_labels=1.0),
    ]
    norm = [
        dict(
            config='configs/x/enc.py',
            single=dict(BN=8.0, SyncBN=7.5),
            single_ratio=7.5 / 8.0,
            distributed=dict(BN=9.0, SyncBN=9.9),
            distributed_ratio=1.1,
        )
    ]
    amp.append(dict(amp[0], config='configs/x/psp.py', fp32=dict(train=4.0, predict=1.0, peak_gib=3.3)))
    loss = dict(
        loss_path=dict(
            fused=dict(seconds=0.1, saved_mib=10.0),
            checkpointed=dict(seconds=1.5, saved_mib=5.0),
            plain=dict(seconds=1.2, saved_mib=600.0),
        ),
        train_step=[dict(config='configs/x/enc.py', fused=9.0, checkpointed=12.0, speedup=12.0 / 9.0)],
    )
    rows = bench_summary.summary_rows(ops, amp, tta, norm, dict(torch_ms=40.0, onnxruntime_ms=20.0), loss)
    assert ('ops', 'Encoding fwd+bwd (2, 8, 4, 4, 3)', 'mmseg form 10.0 ms', '2.0 ms', '5.0x') in rows
    assert ('ops', 'SyncBN ours-relu fwd+bwd (2, 4, 8, 8)', 'torch-bn-relu 6.0 ms', '3.0 ms', '2.00x') in rows
    assert ('amp', 'enc peak memory', 'fp32 3.00 GiB', 'bf16 2.00 GiB', '1.50x') in rows
    assert ('norm', 'enc fwd+bwd, 1 process', 'BN 8.00 s', 'SyncBN 7.50 s', '1.07x') in rows
    assert ('norm', 'enc fwd+bwd, gloo', 'BN 9.00 s', 'SyncBN 9.90 s', '0.91x') in rows
    assert ('memory', 'peak fp32, enc vs psp', '3.30 GiB', '3.00 GiB', '1.10x') in rows
    assert ('loss', 'upsample + CE fwd+bwd vs checkpointed', '1.500 s', 'fused 0.100 s', '15.00x') in rows
    assert ('loss', 'kept for backward vs plain', '600.0 MiB', 'fused 10.0 MiB', '60x') in rows
    assert ('loss', 'enc train step fp32', 'checkpointed 12.00 s', 'fused 9.00 s', '1.33x') in rows
    assert rows[-1] == ('onnx', 'demo model latency', 'PyTorch 40.0 ms', 'onnxruntime 20.0 ms', '2.00x')
    assert rows[-2] == (
        'tta',
        '6 scales x flip, slide, batched wb=8',
        'loop 3.00 s',
        '2.00 s, 100.00% equal labels',
        '1.50x',
    )
    assert len(rows) == 2 + 3 + 3 + 4 + 2 + 1 + 1 + 1


def test_bfloat16_left_out_on_an_emulating_cpu_gives_one_row_without_a_ratio():
    ops = dict(results=[])
    amp = [
        dict(
            config='configs/x/enc.py',
            fp32=dict(train=4.0, predict=1.0, peak_gib=3.0),
            bf16=None,
            train_speedup=None,
            predict_speedup=None,
        )
    ]
    tta = [dict(variant='loop', seconds=3.0, speedup=1.0, equal_labels=1.0)]
    rows = bench_summary.summary_rows(ops, amp, tta)
    assert rows == [('amp', 'enc train step', 'fp32 4.00 s', 'bf16 emulated here', '-')]
