# The perception prompt of the CornerShapes main job, shared by the
# language pre-training stage and the joint stage (they must read the same
# text). Made for a small LM to read with one look-up per question: each
# count follows its class name ("How many circles" -> "circle 2"), each
# position comes before its shape ("in the top left" -> "top left circle"),
# objects listed left to right. Mirrors mmmrmllm.datasets.cornershapes.text.
# TEXT_PROMPT, from which the benchmark's tokenizer learns its words.
from mmmrmllm.models import PerceptionPromptGenerator

prompt_generator = dict(
    type=PerceptionPromptGenerator,
    template='{counts}Objects: {objects}.\n',
    counts_template='Counts: {counts}. ',
    count_template='{name} {count}',
    object_template='{box} {name}',
    separator=', ',
    score_thr=0.3,
    max_objects=10,
    nms_iou_thr=0.5,
    coord_style='grid',
    grid_size=2,
    with_counts=True,
    counts_all_classes=True,
    sort='x')
