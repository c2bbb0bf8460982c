# DeepLabV3 R-50-D8 on Pascal Context (60 classes, background included), crop 480x480, 80k iterations:
# mmseg's deeplabv3_r50-d8_4xb4-80k_pascal-context-480x480 (4 GPUs x 4 images = 16 per step).
# mmseg's Pascal Context recipe: SGD lr 0.004, weight decay 1e-4, sliding-window test (480, stride 320).
_base_ = [
    '../_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/pascal_context.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (480, 480)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=60),
    auxiliary_head=dict(num_classes=60),
    test_cfg=dict(mode='slide', crop_size=(480, 480), stride=(320, 320)),
)
optimizer = dict(type='SGD', lr=0.004, momentum=0.9, weight_decay=0.0001)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
