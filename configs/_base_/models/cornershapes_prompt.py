# The perception prompt of the CornerShapes main job, shared by the
# language pre-training stage and the joint stage (they must read the same
# text). Made for a small LM to read with one look-up per question: each
# count follows its class name ("How many circles" -> "circle 2"), each
# position comes before its shape ("in the top left" -> "top left circle"),
# objects listed left to right. Defined once, as
# mmmrmllm.datasets.cornershapes.TEXT_PROMPT, from which the benchmark's
# tokenizer learns its words.
from mmmrmllm.datasets.cornershapes import TEXT_PROMPT
from mmmrmllm.models import DetectionPromptGenerator

prompt_generator = dict(type=DetectionPromptGenerator, **TEXT_PROMPT.build())
