# FastFCN ("FastFCN: Rethinking Dilated Convolution in the Backbone for Semantic Segmentation",
# Wu et al., 2019) with the EncNet head (Zhang et al., CVPR 2018; SE loss 0.2),
# as mmseg's fastfcn_r50-d32_jpu_enc: the backbone, JPU neck and auxiliary head of
# fastfcn_r50-d32_jpu_psp.py (undilated ResNetV1c-50 whose c2..c4 the JPU fuses at stride 8; an
# FCN auxiliary head, weight 0.4, on c3), with the EncNet head reading the neck's three outputs.
_base_ = './fastfcn_r50-d32_jpu_psp.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='EncHead',
        in_channels=[512, 1024, 2048],
        in_index=(0, 1, 2),
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
)
