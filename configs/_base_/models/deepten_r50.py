# Deep TEN (Zhang, Xue and Dana, "Deep TEN: Texture Encoding Network", CVPR 2017), PyTorch-Encoding's
# deepten_resnet50_minc: its resnet50s (deep stem of 128 channels, plain bottlenecks, *not*
# dilated: output stride 32) -> 1x1 conv to 128 -> BN -> ReLU -> Encoding(D=128, K=32) -> flatten
# (4096) -> L2 normalisation -> Linear(23). No neck: DeepTENHead encodes the feature map itself.
# The backbone starts from PyTorch-Encoding's ImageNet resnet50s (DeepTen builds it with
# pretrained=True), segtools://resnet50s, converted on load.
data_preprocessor = dict(
    type='ClsDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
)
model = dict(
    type='ImageClassifier',
    data_preprocessor=data_preprocessor,
    pretrained='segtools://resnet50s',
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        stem_channels=128,
        out_indices=(3,),
        norm_cfg=dict(type='BN', requires_grad=True),
    ),
    head=dict(
        type='DeepTENHead',
        num_classes=23,
        in_channels=2048,
        channels=128,
        num_codes=32,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
