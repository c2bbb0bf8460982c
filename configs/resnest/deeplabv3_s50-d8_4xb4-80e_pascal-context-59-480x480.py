# DeepLabV3 on a dilated ResNeSt-50, PyTorch-Encoding's DeepLab_ResNeSt50_PContext: Pascal
# Context 59 classes, base 520 / crop 480, 16 images per step, SGD lr 0.001 (heads 10x), poly
# decay over 80 epochs (train_dist.py's pcontext defaults). The zoo lists no flags for the Pascal
# Context models; the auxiliary head (--aux, weight 0.2) of the ADE20K commands is kept.
# Model details as deeplabv3_s50-d8_4xb4-120e_ade20k-480x480.py; backbone, data, schedule and
# auxiliary head are fcn_s50-d8_4xb4-80e_pascal-context-59-480x480.py's, only the decode head differs.
_base_ = './fcn_s50-d8_4xb4-80e_pascal-context-59-480x480.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 12, 24, 36),
        project_dropout_ratio=0.5,
        dropout_ratio=0.1,
        num_classes=59,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True),
    ),
)
