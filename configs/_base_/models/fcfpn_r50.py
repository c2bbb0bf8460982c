# PyTorch-Encoding's FCFPN (fully convolutional FPN) on an undilated ResNetV1c-50 (output
# stride 32): FCFPNHead over c1..c4, 256-channel pyramid levels fused to 512 channels. No
# auxiliary head: PyTorch-Encoding's FCFPN asserts aux=False. stem_channels=128 is its
# resnet50s deep stem (the fcfpn configs are all PyTorch-Encoding recipes); align_corners=True
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
    # PyTorch-Encoding's ImageNet resnet50s, fetched when a Runner initialises weights.
    pretrained='segtools://resnet50s',
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        stem_channels=128,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    decode_head=dict(
        type='FCFPNHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=(0, 1, 2, 3),
        channels=512,
        fpn_channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
