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
    lambda_det=1.0,
    lambda_lm=1.0,
    use_det_feats_in_fusion=True,
    use_feedback=True,
    use_box_tokens=True,
    use_perception_prompt=True,
    detach_perception=False)
