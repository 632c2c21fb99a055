# The MLLM's vision tower of the CornerShapes main job, shared by the MLLM
# pre-training stage (which trains it) and the joint stage (which loads it
# from that stage's InstructBLIP directory): they must agree. An
# InstructBLIP tower, 2 layers of width 128, patch 8, at the encoder view
# of _base_/datasets/cornershapes.py (`image_size=enc_scale[0]`, 96 px):
# a 12 x 12 grid, so that an object (18-36 px at 96 px) spans several
# patches and its region's tokens are its own. At 64 px (an 8 x 8 grid)
# the region-text loss taught a tower much less about shapes
# (docs/main_job.md); patch 4 at 64 px (16 x 16) taught a little more at
# three times the cost.
vision_tower = dict(
    model_type='instructblip_vision_model',
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=2,
    num_attention_heads=4,
    patch_size=8,
    # trained from scratch: HF's InstructBLIP default (1e-10, for towers
    # that load weights) would start every layer at zero
    initializer_range=0.02)
