# Deep TEN on MINC-2500 (split 1), PyTorch-Encoding's deepten_resnet50_minc (top-1 81.04 / top-5
# 95.62 on test-1 with a single 224 crop; docs/source/tutorials/texture.rst):
#   CUDA_VISIBLE_DEVICES=0,1,2,3 python main.py --dataset minc --model deepten_resnet50_minc
#       --batch-size 512 --lr 0.004 --epochs 80 --lr-step 60 --lr-scheduler step --weight-decay 5e-4
# main.py (v1.0.0) trains in one process with DataParallel on the 4 GPUs, so 512 is the batch over
# all of them: 4 x 128 here (total_batch_size = 512), not 4 x 64. Cross entropy, no label
# smoothing, no Mixup; the ResNet-50 (deep stem, not dilated) starts from ImageNet weights.
# Schedule: _base_/schedules/minc_step_80e.py; data: _base_/datasets/minc.py.
#
# Evaluate PyTorch-Encoding's weights (converted on load):
#   python tools/test.py configs/deepten/deepten_resnet50_4xb128-80e_minc-224.py segtools://deepten_resnet50_minc
_base_ = [
    '../_base_/models/deepten_r50.py',
    '../_base_/datasets/minc.py',
    '../_base_/default_runtime_cls.py',
    '../_base_/schedules/minc_step_80e.py',
]
