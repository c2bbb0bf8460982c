# PyTorch-Encoding's best EncNet: EncNet_ResNet101s_ADE, published at 44.4 mIoU / 81.3 pixAcc on
# ADE20K val (multi-scale 0.5..1.75 x flip, sliding 576 windows at stride 384; here
# tools/test.py --tta). Its command: train.py --dataset ade20k --model encnet --aux --se-loss
# --backbone resnet101 --base-size 640 --crop-size 576 (issue #234: the default 520/480 gives less).
#   resnet101s = ResNetV1c-101 with the 128-channel deep stem, dilated to output stride 8
#     (layer3 d=2, layer4 d=4, the first block of each at half the rate: contract_dilation);
#   EncHead: 3x3 conv 2048 -> 512, Encoding with 32 codewords, channel gating, SE loss 0.2;
#   auxiliary FCN head on c3 (1024 -> 256 -> 150), weight 0.2; SyncBN everywhere;
#   batch 16 over all processes (total_batch_size: 4 x 4 GPUs or 2 x 8), long side in
#   [0.5, 2.0] x 640, random 576 crop, flip, no colour jitter;
#   SGD momentum 0.9, wd 1e-4, poly (0.9) lr 0.004 with the heads at x10, 180 epochs, no warmup.
# The published run starts from PyTorch-Encoding's ImageNet resnet101s (pretrained='segtools://resnet101s').
# Short name: configs/encnet/encnet_r101_ade20k.py.
_base_ = [
    '../_base_/models/encnet_r50-d8.py',
    '../_base_/datasets/encoding_ade20k.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_ade20k-180e.py',
]
num_classes = 150
base_size = 640
crop_size = (576, 576)
# PyTorch-Encoding fixes the batch over all processes (tools/train.py divides it).
total_batch_size = 16

# The dataset base's pipelines hold its own base/crop (520/480): mmengine does not re-evaluate
# them with the values above, so this recipe spells its pipelines out.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # mmcv scales are (w, h): the long side drawn in [0.5, 2.0] x base_size, aspect kept.
    dict(type='RandomResize', scale=(base_size, base_size), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Long side = base_size; the label map is loaded after the resize so metrics use the original size.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(base_size, base_size), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# PyTorch-Encoding's multi-scale evaluation: long side base_size x r for each ratio, x 2 flips.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(int(base_size * r), int(base_size * r)), keep_ratio=True) for r in img_ratios],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ],
    ),
]
train_dataloader = dict(batch_size=4, drop_last=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnet101s',
    data_preprocessor=data_preprocessor,
    backbone=dict(depth=101, stem_channels=128, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1)),
    decode_head=dict(
        num_classes=num_classes,
        num_codes=32,
        use_se_loss=True,
        add_lateral=False,
        align_corners=True,
        # Averaged over labelled pixels, as torch's cross entropy in PyTorch-Encoding.
        loss_decode=dict(avg_non_ignore=True),
        loss_se_decode=dict(type='SELoss', loss_weight=0.2),
    ),
    auxiliary_head=dict(
        num_classes=num_classes, align_corners=True, loss_decode=dict(loss_weight=0.2, avg_non_ignore=True)
    ),
    # Windows of the crop size at a stride of 2/3 crop, as PyTorch-Encoding's MultiEvalModule.
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(384, 384)),
)
