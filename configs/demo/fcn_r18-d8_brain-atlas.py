# Short name of the demo config (the command README and `make demo` use).
_base_ = './fcn_r18-d8_1xb8-500_brain-atlas-160x160.py'
