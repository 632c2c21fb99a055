# The main job's tiny MR-MLLM tested on POPE (docs/pope.md): the joint
# config with CornerShapes' POPE probes as its test set. Build the probes
# (see _base_/datasets/pope_cornershapes.py), then
#   python tools/test.py \
#     configs/mrmllm/mrmllm_dino_r18_llama_4l_1xb8_250i_pope_cornershapes.py \
#     work_dirs/mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes/iter_250.pth
# and for the other splits add
#   --cfg-options test_dataloader.dataset.ann_file=pope/corner.json
from mmengine.config import read_base

# (imported last, POPE's test set replaces the joint config's)
with read_base():
    from .mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa
    from .._base_.datasets.pope_cornershapes import *  # noqa: F401,F403
