# PSPNet on a dilated ResNet-50s, PyTorch-Encoding's psp_resnet50s_ade (a model zoo name with
# no published weights, number or command): ADE20K with Encoding's published ADE20K recipe
# (base 520 / crop 480, 16 images per step, SGD lr 0.004, heads 10x, poly over 180 epochs).
# - r50s: ResNetV1c with Encoding's 128-channel deep stem (its resnet50s checkpoint).
# - Head as Encoding's PSP: pyramid pooling over 1, 2, 3, 6 bins (2048 / 4 = 512 channels each,
#   concatenated with the input: 4096), 3x3 conv to 512, dropout 0.1, 1x1 classifier.
# - Auxiliary FCN head on stage 3 (1024 -> 256), weight 0.2 (Encoding's --aux-weight default):
#   Encoding's PSP is built with aux=True by default, and the command that trained the zoo
#   entry is not published, so the auxiliary loss is kept.
# - align_corners=True, cross entropy averaged over non-ignored pixels, slide test 480 / 320.
_base_ = [
    '../_base_/models/pspnet_r50-d8.py',
    '../_base_/datasets/encoding_ade20k.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_ade20k-180e.py',
]
crop_size = (480, 480)
data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnet50s',
    data_preprocessor=data_preprocessor,
    backbone=dict(stem_channels=128),
    decode_head=dict(num_classes=150, align_corners=True, loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=dict(
        num_classes=150,
        align_corners=True,
        loss_decode=dict(loss_weight=0.2, avg_non_ignore=True),
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
