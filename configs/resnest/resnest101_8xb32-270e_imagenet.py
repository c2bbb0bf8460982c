# ResNeSt-101 on ImageNet, the recipe of PyTorch-Encoding's published ResNeSt-101 (top-1 82.83 at a
# 256 centre crop; docs/source/model_zoo/imagenet.rst): the ResNeSt-50 command with
# --model resnest101 (train crop 224, the default), evaluated at 256:
#   python train_dist.py --dataset imagenet --model resnest101 --lr-scheduler cos --epochs 270
#       --lr 0.025 --batch-size 64 --world-size 4 --label-smoothing 0.1 --mixup 0.2 --no-bn-wd
#       --last-gamma --warmup-epochs 5 --rand-aug
# DropBlock 0.1 as resnest50_8xb32-270e_imagenet.py explains (Gluon's resnest101 default).
#
#   python tools/test.py configs/resnest/resnest101_8xb32-270e_imagenet.py segtools://resnest101_imagenet
_base_ = './resnest50_8xb32-270e_imagenet.py'
test_crop_size = 256
model = dict(backbone=dict(depth=101))
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
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
