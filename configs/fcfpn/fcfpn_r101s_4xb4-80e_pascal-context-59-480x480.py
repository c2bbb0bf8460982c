# FCFPN R-101s: fcfpn_r50s_4xb4-80e_pascal-context-59-480x480
# with a ResNet-101 backbone (only the depth changes).
_base_ = './fcfpn_r50s_4xb4-80e_pascal-context-59-480x480.py'
model = dict(backbone=dict(depth=101))
