# What every MR-MLLM of this repository shares, whatever its sizes: the
# joint model with all four couplings on (the ablations switch them off one
# at a time), its encoder view normalised as CLIP's / EVA's, the perception
# feedback into the detector's 4 feature levels, and the kind of each part.
# A model config adds the detector and fills in the parts
# (`model.fusion.update(num_queries=..., ...)`).
from mmmrmllm.models import (
    MRMLLM,
    BoxTokenEncoder,
    DetectionPromptGenerator,
    HFVisionEncoder,
    LLMHead,
    MRMLLMDataPreprocessor,
    PerceptionFeedback,
    SharedQueryFusion,
)

model = dict(
    type=MRMLLM,
    variant='joint',
    data_preprocessor=dict(
        type=MRMLLMDataPreprocessor,
        # CLIP/EVA normalisation of the encoder view (the detector view is
        # normalised by the detector's own data_preprocessor)
        enc=dict(
            mean=[122.771, 116.746, 104.094],
            std=[68.501, 66.632, 70.323],
            bgr_to_rgb=True)),
    vision_encoder=dict(type=HFVisionEncoder),
    # Q-Former-shaped learned queries over vision + detector features
    fusion=dict(type=SharedQueryFusion),
    feedback=dict(type=PerceptionFeedback, num_levels=4, num_heads=8),
    # detections as box/label tokens and as prompt text
    perception_encoder=dict(type=BoxTokenEncoder),
    prompt_generator=dict(type=DetectionPromptGenerator),
    llm=dict(type=LLMHead),
    # the mechanisms' switches (the ablations turn them off one at a time)
    couplings=dict(
        det_feats_in_fusion=True,
        feedback=True,
        box_tokens=True,
        box_token_targets=('llm', ),
        perception_prompt=True,
        detach_det_feats=False),
    # what the box tokens and the prompt read: the detector's predictions
    detections=dict(
        source='pred', gt_noise=0.05, gt_schedule=None, class_names=None),
    # an InstructBLIP / BLIP-2 directory and how its Q-Former reads the
    # instruction (None: InstructBLIP's way with a directory, off without)
    mllm=dict(
        pretrained=None,
        instruction_in_fusion=None,
        instruction_tokenizer=None,
        instruction_text=None),
    losses=dict(
        det_weight=1.0,
        lm_weight=1.0,
        soft_answer_weight=0.0,
        region_text_weight=0.0,
        region_text=None),
    init=dict(
        detector_checkpoint=None, drop_mask_branch=False, lazy_load=False))
