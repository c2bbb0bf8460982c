# FCN on a dilated ResNeSt-50, PyTorch-Encoding's FCN_ResNeSt50_PContext: Pascal Context 59
# classes, base 520 / crop 480, 16 images per step, SGD lr 0.001 (heads 10x), poly decay over 80
# epochs (train_dist.py's pcontext defaults). The zoo lists no flags for the Pascal Context
# models; the auxiliary head (--aux, weight 0.2) of the ADE20K ResNeSt commands is kept.
# Model details as fcn_s50-d8_4xb4-120e_ade20k-480x480.py.
_base_ = [
    '../_base_/models/fcn_r50-d8.py',
    '../_base_/datasets/encoding_pascal_context_59.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_pascal-context-80e.py',
]
crop_size = (480, 480)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnest50',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
        type='ResNeSt',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    decode_head=dict(
        channels=512,
        num_convs=1,
        concat_input=False,
        num_classes=59,
        align_corners=True,
        loss_decode=dict(avg_non_ignore=True),
    ),
    auxiliary_head=dict(
        num_classes=59,
        align_corners=True,
        loss_decode=dict(loss_weight=0.2, avg_non_ignore=True),
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
