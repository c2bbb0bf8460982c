# resnet50_baseline.sh, "# resnest50": the BoTs recipe and DropBlock 0.1 on ResNeSt-50 with rectified
# convolutions, 270 epochs, no RandAugment.
#   python train_dist.py --dataset imagenet --model resnest50 --lr-scheduler cos --epochs 270
#       --checkname resnest50_rt_bots --lr 0.1 --batch-size 256 --label-smoothing 0.1 --mixup 0.2
#       --last-gamma --no-bn-wd --warmup-epochs 5 --dropblock-prob 0.1 --rectify
# configs/resnest/resnest50_8xb32-270e_imagenet.py (the published recipe) with rectified convs and
# without RandAugment.
_base_ = '../resnest/resnest50_8xb32-270e_imagenet.py'
model = dict(backbone=dict(rectified_conv=True, rectify_avg=False))
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='ERandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='Lighting', alphastd=0.1),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
