# PyTorch-Encoding's published COCO (coco) schedule (experiments/segmentation/train.py, auto
# epochs / auto lr): SGD lr 0.004 per 16 images, momentum 0.9, wd 1e-4, heads at 10x, 30 epochs,
# lr * (1 - T / T_total) ** 0.9 per iteration without warmup. See encoding_poly.py for the rest.
_base_ = './encoding_poly.py'
optimizer = dict(lr=0.004)
optim_wrapper = dict(optimizer=optimizer)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=30, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30)
