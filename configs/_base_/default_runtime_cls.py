# Runtime defaults of the recognition (image classification) configs: default_runtime.py's, with
# the classification TTA model and mmengine's plain visualizer (segmentation overlays do not apply).
_base_ = ['./default_runtime.py']
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')], name='visualizer', _delete_=True)
tta_model = dict(type='ClsTTAModel', _delete_=True)
