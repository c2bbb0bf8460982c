# UPerNet ("Unified Perceptual Parsing for Scene Understanding", Xiao et al., ECCV 2018) on an
# undilated ResNetV1c-50 (output stride 32), as mmseg's upernet_r50: UPerHead over c1..c4
# (pyramid pooling on c4, FPN, 512 channels), an FCN auxiliary head on c3 (weight 0.4).
# stem_channels=64 is mmseg's ResNetV1c (open-mmlab://resnet50_v1c width).
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    # mmseg's ImageNet init ('open-mmlab://resnet50_v1c'), fetched when a Runner initialises weights.
    pretrained='segtools://resnet50_v1c',
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        stem_channels=64,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    decode_head=dict(
        type='UPerHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=(0, 1, 2, 3),
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
