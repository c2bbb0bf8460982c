# EncNet-101 on ADE20K, PyTorch-Encoding's best recipe (target 44.4 mIoU / 81.3 pixAcc on ADE20K
# val, multi-scale + flip); the recipe lives in encnet_r101s-d8_4xb4-180e_ade20k-576x576.py.
#   tools/dist_train.sh configs/encnet/encnet_r101_ade20k.py 8    # 8 processes x 2 = batch 16
#   tools/dist_test.sh configs/encnet/encnet_r101_ade20k.py work_dirs/encnet_r101_ade20k/epoch_180.pth 8 --tta
_base_ = './encnet_r101s-d8_4xb4-180e_ade20k-576x576.py'
