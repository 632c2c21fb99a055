# What every MR-MLLM of this repository shares, whatever its parts: the
# joint model with all four couplings on (the ablations switch them off one
# at a time), its encoder view normalised as CLIP's / EVA's, and the
# perception feedback into the detector's 4 feature levels. A model config
# adds the detector, vision encoder, fusion, perception encoder, prompt
# generator and LLM (`model.update(...)`).
from mmmrmllm.models import MRMLLM, MRMLLMDataPreprocessor, PerceptionFeedback

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
    feedback=dict(type=PerceptionFeedback, num_levels=4, num_heads=8),
    lambda_det=1.0,
    lambda_lm=1.0,
    use_det_feats_in_fusion=True,
    use_feedback=True,
    use_box_tokens=True,
    use_perception_prompt=True,
    detach_perception=False)
