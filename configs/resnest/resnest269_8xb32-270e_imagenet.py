# ResNeSt-269 on ImageNet, the recipe of PyTorch-Encoding's published ResNeSt-269 (top-1 84.54 at a
# 416 centre crop; docs/source/model_zoo/imagenet.rst):
#   python train_dist.py --dataset imagenet --model resnest269 --lr-scheduler cos --epochs 270
#       --lr 0.0125 --batch-size 32 --world-size 8 --label-smoothing 0.1 --mixup 0.2 --no-bn-wd
#       --last-gamma --warmup-epochs 5 --rand-aug --crop-size 320
# The ResNeSt-200 recipe (dropout 0.2, DropBlock 0.1: Gluon's resnest269 defaults) with train crop
# 320 and eval crop 416.
#
#   python tools/test.py configs/resnest/resnest269_8xb32-270e_imagenet.py segtools://resnest269_imagenet
_base_ = './resnest200_8xb32-270e_imagenet.py'
crop_size = 320
test_crop_size = 416
model = dict(backbone=dict(depth=269))
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
