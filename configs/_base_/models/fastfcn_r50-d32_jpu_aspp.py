# FastFCN ("FastFCN: Rethinking Dilated Convolution in the Backbone for Semantic Segmentation",
# Wu et al., 2019) with the DeepLabV3 ASPP head (1x1, rates 12/24/36, image pooling),
# as mmseg's fastfcn_r50-d32_jpu_aspp: the backbone, JPU neck and auxiliary head of
# fastfcn_r50-d32_jpu_psp.py (undilated ResNetV1c-50 whose c2..c4 the JPU fuses at stride 8; an
# FCN auxiliary head, weight 0.4, on c3), with the ASPP head reading the fused map.
_base_ = './fastfcn_r50-d32_jpu_psp.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=2048,
        in_index=2,
        channels=512,
        dilations=(1, 12, 24, 36),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
)
