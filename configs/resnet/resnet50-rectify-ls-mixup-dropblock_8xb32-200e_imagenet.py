# resnet50_baseline.sh, "# dropblock": "Mixup + LS" plus DropBlock 0.1 (block 3) in stages 3-4.
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 200
#       --checkname --label-smoothing 0.1 --mixup 0.2 --lr 0.1 --batch-size 256 --label-smoothing 0.1
#       --mixup 0.2 --dropblock-prob 0.1 --rectify
# (As written the line does not parse: --checkname gets no value. This config takes the switches it
# lists.) Without --warmup-epochs the drop probability ramps linearly from 0 at the first iteration
# to 0.1 at the last (reset_dropblock(0, all iterations, 0, 0.1)).
_base_ = './resnet50-rectify-ls-mixup_8xb32-200e_imagenet.py'
model = dict(backbone=dict(dropblock_prob=0.1))
custom_hooks = [dict(type='DropBlockRampHook', warmup_epochs=0)]
