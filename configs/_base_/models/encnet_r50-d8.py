# EncNet ("Context Encoding for Semantic Segmentation", Zhang et al., CVPR 2018) on
# ResNetV1c-50 at output stride 8, as mmseg's encnet_r50-d8: EncHead on c2..c4 (only c4 is
# used without laterals) with the SE loss (weight 0.2), an FCN auxiliary head on c3 (0.4).
# stem_channels=64 is mmseg's ResNetV1c (the open-mmlab://resnet50_v1c width); segtools'
# ResNetV1c defaults to PyTorch-Encoding's 128 (resnet50s), which the r50s configs use.
# pretrained=None: set model.pretrained to an ImageNet checkpoint to reproduce published runs.
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
        type='EncHead',
        in_channels=[512, 1024, 2048],
        in_index=(1, 2, 3),
        channels=512,
        num_codes=32,
        use_se_loss=True,
        add_lateral=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_se_decode=dict(type='SELoss', loss_weight=0.2),
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
