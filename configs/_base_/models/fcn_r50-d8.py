# FCN (Long et al., CVPR 2015) on ResNetV1c-50 at output stride 8: mmseg's fcn_r50-d8.
# Two 3x3 convs (2048 -> 512 -> 512), their output concatenated with the input and fused by a
# third conv; an auxiliary FCN head on stage 3 (1024 channels, loss weight 0.4).
# SyncBN is segtools' SyncBatchNorm (a local batch norm in one process).
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
    # mmseg's ImageNet init ('open-mmlab://resnet50_v1c', OpenMMLab's weights), fetched by the model store
    # when a Runner initialises weights and converted on load; building a model downloads nothing.
    pretrained='segtools://resnet50_v1c',
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        # 64 (convs of 32, 32, 64) is the width of mmseg's resnet50_v1c checkpoints; segtools'
        # ResNetV1c defaults to PyTorch-Encoding's 128 (the r50s configs).
        stem_channels=64,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    decode_head=dict(
        type='FCNHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        num_convs=2,
        concat_input=True,
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
