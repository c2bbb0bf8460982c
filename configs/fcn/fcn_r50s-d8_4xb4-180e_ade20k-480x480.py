# FCN on a dilated ResNet-50s (output stride 8), PyTorch-Encoding's FCN_ResNet50s_ADE recipe:
#   python train.py --dataset ade20k --model FCN   (experiments/segmentation/train.py)
# base 520 / crop 480, 16 images per step, SGD lr 0.004 (heads 10x) with poly decay over 180
# epochs, no auxiliary head (the published command has no --aux).
# - r50s: ResNetV1c with Encoding's 128-channel deep stem (its resnet50s checkpoint).
# - Head as Encoding's FCNHead: one 3x3 conv 2048 -> 512 (in / 4), dropout 0.1, 1x1 classifier.
# - Bilinear resizing with align_corners=True everywhere, as in Encoding.
# - Cross entropy averaged over non-ignored pixels (Encoding's nn.CrossEntropyLoss), not mmseg's
#   average over all pixels.
# - Test: the long side resized to 520, then 480x480 windows with stride 320 (2/3 of the crop),
#   Encoding's MultiEvalModule at scale 1; tools/test.py --tta adds its 6 scales x flip.
# Starts, as the published run, from Encoding's ImageNet resnet50s (pretrained='segtools://resnet50s').
_base_ = [
    '../_base_/models/fcn_r50-d8.py',
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
    decode_head=dict(
        channels=512,
        num_convs=1,
        concat_input=False,
        num_classes=150,
        align_corners=True,
        loss_decode=dict(avg_non_ignore=True),
    ),
    auxiliary_head=None,
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
