# COCO-Stuff 164k (171 classes: 80 things + 91 stuff), mmseg's 512x512 recipe: 118k train / 5k
# val images under data/coco_stuff164k; tools/dataset_converters/coco_stuff164k.py compacts the
# official 182 sparse ids into the *_labelTrainIds.png masks (0..170, 255 = unlabelled).
# The same crop, scales, pipelines and loaders as ade20k.py; only the dataset and folders differ.
_base_ = './ade20k.py'
dataset_type = 'COCOStuffDataset'
data_root = 'data/coco_stuff164k'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
    ),
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
    ),
)
test_dataloader = val_dataloader
