# PyTorch-Encoding's training schedule with step decay: as encoding_poly.py (SGD lr 0.004 per 16
# images, momentum 0.9, wd 1e-4, heads at 10x, 1 linear warmup epoch, 120 epochs), then
# lr * 0.1 ** (epoch // 40): Encoding's step mode counts whole epochs from the start of training
# (warmup included), so the steps fall after epochs 40 and 80.
_base_ = './encoding_poly.py'
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=1, by_epoch=True, convert_to_iter_based=True),
    dict(type='StepLR', step_size=40, gamma=0.1, begin=0, end=120, by_epoch=True, convert_to_iter_based=True),
]
