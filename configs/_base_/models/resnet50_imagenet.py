# ResNet-50 ImageNet classifier: PyTorch-Encoding's resnet50 (7x7 stem, plain bottlenecks, not
# dilated) as ImageClassifier(backbone -> GlobalAveragePooling -> LinearClsHead), the layout a
# converted PyTorch-Encoding classifier loads into strictly (backbone.*, head.fc.*).
# Trained from scratch (no pretrained); conv weights N(0, sqrt(2 / (k * k * out))), BN 1 / 0, as
# PyTorch-Encoding initialises them.
# Images are normalised with the ImageNet mean/std in RGB (loaded BGR, hence bgr_to_rgb).
data_preprocessor = dict(
    type='ClsDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
)
model = dict(
    type='ImageClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='ResNet', depth=50, out_indices=(3,), norm_cfg=dict(type='BN', requires_grad=True)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
