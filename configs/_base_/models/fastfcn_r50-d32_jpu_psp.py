# FastFCN ("FastFCN: Rethinking Dilated Convolution in the Backbone for Semantic Segmentation",
# Wu et al., 2019) with the PSPNet head (Zhao et al., CVPR 2017),
# as mmseg's fastfcn_r50-d32_jpu_psp: an undilated ResNetV1c-50 (output stride 32) whose c2..c4
# the JPU neck fuses at stride 8; the decode head reads the fused map, an FCN auxiliary head
# (weight 0.4) the untouched c3. stem_channels=64 is mmseg's ResNetV1c (open-mmlab://resnet50_v1c).
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
        out_indices=(1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    # c2, c3, c4 (strides 8, 16, 32) -> (c2, c3, fused c2..c4 at stride 8 with 4 x 512 channels).
    neck=dict(
        type='JPU',
        in_channels=(512, 1024, 2048),
        channels=512,
        dilations=(1, 2, 4, 8),
        align_corners=False,
        norm_cfg=norm_cfg,
    ),
    decode_head=dict(
        type='PSPHead',
        in_channels=2048,
        in_index=2,
        channels=512,
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
        in_index=1,
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
