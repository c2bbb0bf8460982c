# Runtime defaults shared by every config (mmengine Runner fields).
default_scope = 'segtools'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; tools/train.py and tools/test.py switch it to gloo on a machine without
    # CUDA (segtools.utils.launch.prepare_cpu_distributed), so one config serves both.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# A load_from/resume checkpoint must fit the model exactly (tools/train.py and tools/test.py stop
# with the mismatched keys otherwise); True loads only what fits, with a warning (fine-tuning).
allow_partial_load = False
# `tools/test.py --tta` wraps the model in this and swaps in the dataset's `tta_pipeline`.
tta_model = dict(type='SegTTAModel')
