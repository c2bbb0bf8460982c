# ResNeSt-50 on ImageNet, the recipe of PyTorch-Encoding's published ResNeSt-50 (top-1 81.03 at a
# 224 centre crop; docs/source/model_zoo/imagenet.rst):
#   python train_dist.py --dataset imagenet --model resnest50 --lr-scheduler cos --epochs 270
#       --lr 0.025 --batch-size 64 --world-size 4 --label-smoothing 0.1 --mixup 0.2 --no-bn-wd
#       --last-gamma --warmup-epochs 5 --rand-aug
# i.e. lr 0.1 per 256 images (here 8 x 32 = 256 at lr 0.1), cosine over 270 epochs after 5 linear
# warmup epochs, label smoothing 0.1, Mixup(alpha 0.2) with the smoothed soft-target loss
# (NLLMultiLabelSmooth), no weight decay on norms and biases, the last BN of every block
# zero-initialised, RandAugment(2, 12), train and eval crops 224.
# DropBlock 0.1 in stages 3-4: the published weights were trained in MXNet Gluon, whose resnest50
# builds DropBlock(0.1) by default (zhanghang1989/ResNeSt resnest/gluon/resnest.py), as does the
# resnest50 line of PyTorch-Encoding's resnet50_baseline.sh; the imagenet.rst command has no
# --dropblock-prob. It ramps 0 -> 0.1 after the warmup (DropBlockRampHook; train_dist.py's
# reset_dropblock) and has no state, so the published file still loads strictly.
#
# Evaluate PyTorch-Encoding's weights (converted on load):
#   python tools/test.py configs/resnest/resnest50_8xb32-270e_imagenet.py segtools://resnest50_imagenet
_base_ = [
    '../_base_/models/resnest50_imagenet.py',
    '../_base_/datasets/imagenet.py',
    '../_base_/default_runtime_cls.py',
    '../_base_/schedules/imagenet_cos-warmup5_270e.py',
]
crop_size = 224
test_crop_size = 224
model = dict(
    data_preprocessor=dict(batch_augments=[dict(type='Mixup', alpha=0.2)]),
    backbone=dict(depth=50, last_gamma=True, dropblock_prob=0.1),
    head=dict(loss=dict(type='LabelSmoothingCrossEntropyLoss', smoothing=0.1)),
)
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='RandAugment', n=2, m=12),
    dict(type='ERandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='Lighting', alphastd=0.1),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='ECenterCrop', crop_size=test_crop_size),
    dict(type='PackClsInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='ECenterCrop', crop_size=test_crop_size)],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='PackClsInputs')],
        ],
    ),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# --no-bn-wd: every norm weight and bias, and every bias, without weight decay.
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
custom_hooks = [dict(type='DropBlockRampHook', warmup_epochs=5)]
