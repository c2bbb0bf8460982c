# FCN on a dilated ResNet-50s, PyTorch-Encoding's fcn_resnet50s_pcontext (model zoo entry with
# aux=False; no published weights or number): Pascal Context 59 classes, base 520 / crop 480,
# 16 images per step, SGD lr 0.001 (heads 10x) with poly decay over 80 epochs (Encoding's auto
# lr/epochs for pcontext). Model details as fcn_r50s-d8_4xb4-180e_ade20k-480x480.py.
_base_ = [
    '../_base_/models/fcn_r50-d8.py',
    '../_base_/datasets/encoding_pascal_context_59.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_pascal-context-80e.py',
]
crop_size = (480, 480)
data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnet50s',
    data_preprocessor=data_preprocessor,
    backbone=dict(stem_channels=128),
    decode_head=dict(
        channels=512,
        num_convs=1,
        concat_input=False,
        num_classes=59,
        align_corners=True,
        loss_decode=dict(avg_non_ignore=True),
    ),
    auxiliary_head=None,
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
