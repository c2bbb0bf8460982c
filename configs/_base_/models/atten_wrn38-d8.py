# PyTorch-Encoding's ATTEN on WideResNet-38 (model A2, in-place ABN: SyncBN fused with leaky
# ReLU 0.01) at output stride 8. The backbone returns mod5 (1024 channels, PyTorch-Encoding's
# c3) and bn_out (4096). ATTENHead defaults of get_atten: 3x3 conv 4096 -> 1024, ACF attention
# with 8 heads and 1 softmax, concatenated with a global-pooling branch (2048 channels), the
# EncNet context gating (with_enc), no laterals, no SE loss. Auxiliary FCN head on mod5
# (1024 -> 256 -> classes, weight 0.2 as PyTorch-Encoding's --aux-weight). align_corners=True
# as everywhere in PyTorch-Encoding.
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
    # PyTorch-Encoding's ImageNet wideresnet38, fetched when a Runner initialises weights.
    pretrained='segtools://wideresnet38',
    backbone=dict(
        type='WideResNet',
        depth=38,
        output_stride=8,
        out_indices=(3, 5),
        norm_cfg=dict(type='SyncBN', activation='leaky_relu', slope=0.01, inplace=True),
        norm_eval=False,
    ),
    decode_head=dict(
        type='ATTENHead',
        in_channels=4096,
        in_index=1,
        channels=2048,
        num_heads=8,
        num_mixtures=1,
        with_global=True,
        with_enc=True,
        with_lateral=False,
        use_se_loss=False,
        num_codes=32,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True),
    ),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=0,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.2, avg_non_ignore=True),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
