# Pascal Context, 59 classes with background ignored (the benchmark setting of mmseg and
# PyTorch-Encoding). Same images, masks and pipelines as pascal_context.py; PascalContextDataset59
# sets reduce_zero_label=True (background 0 -> 255, class k -> k - 1).
_base_ = './pascal_context.py'
dataset_type = 'PascalContextDataset59'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
