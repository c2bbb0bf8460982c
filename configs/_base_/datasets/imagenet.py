# ImageNet (ILSVRC-2012, 1000 classes) with PyTorch-Encoding's recognition transforms
# (encoding/transforms/get_transform.py, dataset 'imagenet', etrans=True), as
# experiments/recognition/train_dist.py uses them:
#   train: [RandAugment(n=2, m=12) with --rand-aug] -> ERandomCrop(crop) (Inception-style area 0.1-1,
#          bicubic) -> horizontal flip -> ColorJitter(0.4, 0.4, 0.4) -> Lighting(0.1) -> normalise
#   val:   ECenterCrop(crop) (centre square of crop / (crop + 32) of the short side, bicubic) -> normalise
# RandAugment is off here (train_dist.py's default); a leaf config that trains with --rand-aug
# redefines train_pipeline with dict(type='RandAugment', n=2, m=12) first after loading, as the
# ResNeSt configs do, and so does a config with another crop (mmengine does not re-evaluate these
# variables in a child config: redefine the pipeline and put it back into the dataloader).
# Normalisation (ImageNet mean/std, RGB) is the model's data_preprocessor's business.
# Images are decoded with Pillow, as PyTorch-Encoding's Image.open(...).convert('RGB').
#
# Layout (tools/dataset_converters/imagenet.py writes it): <data_root>/{train,val}/<wnid>/*.JPEG,
# the 1000 WordNet-id folders each; ImageNetDataset refuses a partial copy unless
# metainfo=dict(classes=[...]) names a subset on purpose.
dataset_type = 'ImageNetDataset'
data_root = 'data/imagenet'
crop_size = 224
test_crop_size = 224
# The lr of the schedules is per 256 images (PyTorch-Encoding: 0.1 per 256, its --lr per process
# times the process count). tools/train.py sets train_dataloader.batch_size = total_batch_size //
# world_size; batch_size=32 below is what each of 8 processes gets (the "8xb32" of the names).
total_batch_size = 256
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='ERandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='Lighting', alphastd=0.1),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='ECenterCrop', crop_size=test_crop_size),
    dict(type='PackClsInputs'),
]
# PyTorch-Encoding evaluates one centre crop (verify.py, train_dist.py); `tools/test.py --tta`
# adds the flipped crop and averages the two probabilities.
tta_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='ECenterCrop', crop_size=test_crop_size)],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='PackClsInputs')],
        ],
    ),
]
# Epoch-based like train_dist.py: a shuffled pass per epoch (DistributedSampler), the last
# incomplete batch kept (its DataLoader has no drop_last).
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='train'), pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='val'), pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='TopKAccuracyMetric', topk=(1, 5))
test_evaluator = val_evaluator
