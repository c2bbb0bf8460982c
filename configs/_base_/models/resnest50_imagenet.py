# ResNeSt-50 ImageNet classifier: PyTorch-Encoding's resnest50 (radix 2, deep stem of 64 channels,
# average-pool shortcuts, avd) as ImageClassifier(backbone -> GlobalAveragePooling ->
# LinearClsHead), the layout PyTorch-Encoding's published classifiers load into strictly once
# converted (keys backbone.*, head.fc.*; segtools://resnest50_imagenet). Deeper ResNeSts change
# backbone.depth (the stem widens to 128 channels above depth 50, the ResNeSt default).
# Images are normalised with the ImageNet mean/std in RGB (loaded BGR, hence bgr_to_rgb).
_base_ = './resnet50_imagenet.py'
# depth, out_indices and norm_cfg carry over from the ResNet-50 skeleton.
model = dict(backbone=dict(type='ResNeSt'))
