# MR-MLLM at paper scale with Grounding DINO (Swin-T) as the detector, the
# detector of LLMDet: everything else as configs/mrmllm_dino_vicuna.py. The
# dataset's class names are its text prompt (GroundingDINOAdapter).
#
#   bash tools/dist_train.sh configs/mrmllm/<this file> 8
from mmengine.config import read_base

with read_base():
    from .._base_.models.grounding_dino_swin_t import (
        detector as grounding_dino,
    )
    from ..mrmllm_dino_vicuna import *  # noqa: F401,F403

# local weights (nothing is downloaded): bert-base-uncased's save_pretrained
# directory and an mmdet Grounding DINO-T checkpoint
bert_dir = 'checkpoints/bert-base-uncased'
# assigned, not updated: ConfigDict.update would merge DINO's keys in
model.detector = dict(  # noqa: F405
    grounding_dino,
    language_model=dict(grounding_dino['language_model'], name=bert_dir))
model.init.detector_checkpoint = (  # noqa: F405
    'checkpoints/grounding_dino_swin-t_coco.pth')
