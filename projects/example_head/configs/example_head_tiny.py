# A tiny EncoderDecoder whose decode and auxiliary heads are the plugin's ExampleHead.
# custom_imports registers the plugin (run from the repository root so `projects` imports).
custom_imports = dict(imports=['projects.example_head.example_head'], allow_failed_imports=False)
default_scope = 'segtools'

crop_size = (32, 32)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size,
)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    # A narrow dilated ResNet-18 (output stride 8) keeps the example fast on a CPU.
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=8,
        base_channels=8,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(2, 3),
        norm_cfg=norm_cfg,
    ),
    decode_head=dict(
        type='ExampleHead',
        in_channels=64,
        in_index=1,
        channels=16,
        num_classes=4,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
    auxiliary_head=dict(
        type='ExampleHead',
        in_channels=32,
        in_index=0,
        channels=8,
        num_classes=4,
        norm_cfg=norm_cfg,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
