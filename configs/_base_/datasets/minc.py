# MINC-2500 (23 materials), split 1, with PyTorch-Encoding's recognition transforms
# (encoding/transforms/get_transform.py, dataset 'minc'; the same at v1.0.0, when the published
# Deep TEN was trained):
#   train: Resize(256) -> RandomResizedCrop(224) -> horizontal flip -> ColorJitter(0.4, 0.4, 0.4)
#          -> Lighting(0.1) -> normalise
#   test:  Resize(256) -> CenterCrop(224) -> normalise
# It trains on labels/train1.txt and reports top-1/top-5 on labels/test1.txt (its "val" split);
# the list files' lines are images/<class>/<class>_<id>.jpg.
# How the transforms map:
# - Resize(256) resizes the short side to 256 (PIL bilinear, antialiased). Every MINC-2500 image is
#   a 362x362 square, so mmcv's Resize with scale (256, 256) and keep_ratio gives exactly 256x256;
#   backend='pillow' resizes with PIL's antialiased bilinear filter as torchvision does.
# - RandomResizedCrop(224): segtools has no torchvision-style RandomResizedCrop; ERandomCrop with
#   torchvision's ranges (area 0.08-1, ratio 3/4-4/3) and bilinear resizing is the nearest.
#   It differs in how it draws the window (uniform height and ratio; torchvision: uniform area,
#   log-uniform ratio) and in its fallback after 10 misses (a centre crop of 224/256 of the short
#   side; torchvision: the whole image).
# - CenterCrop(224): mmcv's CenterCrop on the 256x256 image, the same 16-pixel border.
dataset_type = 'MINCDataset'
data_root = 'data/minc-2500'
base_size = 256
crop_size = 224
# Deep TEN's published run: 512 images per step on 4 GPUs (one process, DataParallel).
# tools/train.py sets train_dataloader.batch_size = total_batch_size // world_size.
total_batch_size = 512
resize = dict(type='Resize', scale=(base_size, base_size), keep_ratio=True, backend='pillow', interpolation='bilinear')
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    resize,
    dict(
        type='ERandomCrop',
        crop_size=crop_size,
        area_range=(0.08, 1.0),
        ratio_range=(3 / 4, 4 / 3),
        min_covered=0.08,
        interpolation='bilinear',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='Lighting', alphastd=0.1),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    resize,
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='PackClsInputs'),
]
# PyTorch-Encoding reports the single centre crop; `tools/test.py --tta` adds its mirror image.
tta_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(
        type='TestTimeAug',
        transforms=[
            [resize],
            [dict(type='CenterCrop', crop_size=crop_size)],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='PackClsInputs')],
        ],
    ),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path=''),
        ann_file='labels/train1.txt',
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path=''),
        ann_file='labels/test1.txt',
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='TopKAccuracyMetric', topk=(1, 5))
test_evaluator = val_evaluator
