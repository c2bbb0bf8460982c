# DRANet ("Scene Segmentation with Dual Relation-aware Attention Network", Fu et al., IEEE
# TNNLS 2020; CASIA-IVA-Lab/DANet) on ResNetV1c-50 at output stride 8, in mmseg's layout:
# DRANHead reads c1 (low level, for the cross-level gating decoder) and c4; an FCN auxiliary
# head on c3 (weight 0.4, as mmseg's danet_r50-d8). stem_channels=64 is mmseg's ResNetV1c.
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
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        stem_channels=64,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    decode_head=dict(
        type='DRANHead',
        in_channels=[256, 2048],
        in_index=(0, 3),
        channels=256,
        inter_channels=512,
        pool_scales=(1, 2, 3, 6),
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
