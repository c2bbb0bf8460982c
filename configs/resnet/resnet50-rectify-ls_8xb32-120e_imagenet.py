# resnet50_baseline.sh, "# LS": rectify plus label smoothing 0.1 (no warmup, no --no-bn-wd).
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 120
#       --checkname resnet50_rt_ls --lr 0.1 --batch-size 256 --label-smoothing 0.1 --rectify
_base_ = './resnet50-rectify_8xb32-120e_imagenet.py'
model = dict(head=dict(loss=dict(type='LabelSmoothingCrossEntropyLoss', smoothing=0.1)))
