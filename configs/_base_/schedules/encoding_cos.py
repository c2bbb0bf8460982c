# PyTorch-Encoding's training schedule with cosine decay: as encoding_poly.py (SGD lr 0.004 per 16
# images, momentum 0.9, wd 1e-4, heads at 10x, 1 linear warmup epoch, 120 epochs), then
# 0.5 * lr * (1 + cos(pi * T / T_total)) per iteration, T counted from the end of the warmup and
# T_total = the post-warmup iterations: exactly Encoding's formula (CosineAnnealingLR's T_max).
_base_ = './encoding_poly.py'
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=1, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=119, eta_min=0.0, begin=1, end=120, by_epoch=True, convert_to_iter_based=True),
]
