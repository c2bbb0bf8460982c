# PyTorch-Encoding's FCFPN (train.py --model fcfpn --dataset pcontext; no --aux, which FCFPN
# rejects): resnet50s undilated (output stride 32), FPN over c1..c4 (256 channels) fused to 512,
# base 520 / crop 480, batch 16, poly lr 0.001 (head x10), 80 epochs. No published number.
# Loss averaged over labelled pixels (torch CE, as PyTorch-Encoding),
# align_corners=True. PyTorch-Encoding starts from its ImageNet resnet50s (pretrained='segtools://resnet50s').
# Its published numbers are multi-scale + flip (tools/test.py --tta).
_base_ = [
    '../_base_/models/fcfpn_r50.py',
    '../_base_/datasets/encoding_pascal_context_59.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_pascal-context-80e.py',
]
crop_size = (480, 480)
# PyTorch-Encoding fixes the batch over all processes (tools/train.py divides it).
total_batch_size = 16
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=59),
    # PyTorch-Encoding evaluates with windows of the crop size at a stride of 2/3 crop.
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
