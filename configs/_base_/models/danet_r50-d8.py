# DANet (Fu et al., CVPR 2019) on ResNetV1c-50 at output stride 8: mmseg's danet_r50-d8.
# Position (PAM, 64 query/key channels) and channel (CAM) attention branches of 512 channels,
# each supervised on its own (pam.* and cam.* losses) and summed for the main output; an
# auxiliary FCN head on stage 3 (1024 channels, loss weight 0.4).
# The backbone, data preprocessor and auxiliary head are fcn_r50-d8.py's; only the decode head differs.
_base_ = './fcn_r50-d8.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DAHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        pam_channels=64,
        use_branch_loss=True,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
)
