# resnet50_baseline.sh, "# warmup": rectify plus 5 linear warmup epochs before the cosine decay
# (T_total then counts the post-warmup iterations, as Encoding's LR_Scheduler does).
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 120
#       --checkname resnet50_rt_warm --lr 0.1 --batch-size 256 --warmup-epochs 5 --rectify
_base_ = './resnet50-rectify_8xb32-120e_imagenet.py'
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=5, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=115, eta_min=0.0, begin=5, end=120, by_epoch=True, convert_to_iter_based=True),
]
