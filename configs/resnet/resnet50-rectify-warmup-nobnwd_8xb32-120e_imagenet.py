# resnet50_baseline.sh, "# no-bn-wd": rectify and warmup, without weight decay on norms and biases.
#   python train_dist.py --dataset imagenet --model resnet50 --lr-scheduler cos --epochs 120
#       --checkname resnet50_rt_nobnwd_warm --lr 0.1 --batch-size 256 --no-bn-wd --warmup-epochs 5 --rectify
# train_dist.py exempts the parameters whose *name* contains "bn" or "bias", which misses the norms
# it names otherwise (the deep stem's conv1.1/conv1.4, the shortcuts' downsample.1/2); mmengine's
# norm_decay_mult exempts every norm layer, as the intent (and Gluon's --no-wd) has it.
_base_ = './resnet50-rectify-warmup_8xb32-120e_imagenet.py'
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
