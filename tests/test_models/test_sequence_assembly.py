"""Sequence assembly with a stand-in LLM head: one sequence per (image,
question), box tokens after the soft tokens, perception text shared by an
image's questions, skipped questions put back as empty answers."""
import torch

from mmmrmllm.models.perception_pass import Detections
from mmmrmllm.models.sequence_assembly import assemble_sequences, per_image
from mmmrmllm.structures import MRMLLMDataSample


class FakeLLM:

    def __init__(self, skip=()):
        self.skip = set(skip)
        self.calls = []

    def encode_image_prompts(self, qs, answers, num_visual, perception,
                             n_obj, name):
        text = perception(0) if perception else None
        self.calls.append((qs, answers, num_visual, text, n_obj, name))
        # objects dropped to fit: one per question, to tell images apart
        return [None if q in self.skip else (q, text) for q in qs], len(qs)


class FakeGenerator:

    def __init__(self):
        self.selected = []

    def select(self, boxes, labels, scores, training):
        self.selected.append((boxes, labels, scores, training))
        return [int(x) for x in labels]

    def render(self, objects, names, drop):
        return ' '.join(names[i] for i in objects[:len(objects) - drop])


def sample(img_id, questions, answers=None):
    s = MRMLLMDataSample(metainfo=dict(img_id=img_id))
    s.questions = questions
    s.gt_answers = answers or [['x']] * len(questions)
    return s


def test_sequences_per_question_with_box_tokens_and_prompt():
    soft = torch.arange(2 * 3 * 4, dtype=torch.float).view(2, 3, 4)
    boxes = [torch.ones(1, 4), torch.ones(2, 4) * 2]
    dets = [Detections(torch.zeros(1, 4), torch.tensor([0]), torch.ones(1)),
            Detections(torch.zeros(2, 4), torch.tensor([1, 0]),
                       torch.ones(2))]
    samples = [sample(1, ['a?', 'b?'], [['yes', 'yes', 'no'], ['2']]),
               sample(2, ['c?'])]
    llm = FakeLLM()
    generator = FakeGenerator()
    visual, prompts, owners = assemble_sequences(
        soft, samples, llm, True, box_tokens=boxes, detections=dets,
        prompt_generator=generator, class_names=['cat', 'dog'])
    # the image's detections, as they are, in training mode
    for (b, lab, sc, training), det in zip(generator.selected, dets):
        assert (b, lab, sc) == (det.boxes, det.labels, det.scores)
        assert training is True
    # visual tokens and object count as the LLM head is told
    assert [c[2] for c in llm.calls] == [4, 5]
    assert [c[4] for c in llm.calls] == [1, 2]
    assert [s.metainfo['prompt_objects_dropped'] for s in samples] == [2, 1]
    assert owners == [0, 0, 1]
    assert [p[0] for p in prompts] == ['a?', 'b?', 'c?']
    assert [v.shape[0] for v in visual] == [4, 4, 5]
    assert torch.equal(visual[2][:3], soft[1])
    assert torch.equal(visual[2][3:], boxes[1])
    assert llm.calls[0][1] == ['yes', '2']  # majority answers in training
    assert llm.calls[0][3] == 'cat' and llm.calls[1][3] == 'dog cat'
    assert llm.calls[1][5] == 'img_id=2'


def test_no_questions_no_sequences_and_skipped_questions_refilled():
    soft = torch.zeros(3, 2, 4)
    samples = [sample(1, []), sample(2, ['long?', 'ok?']), sample(3, ['q'])]
    llm = FakeLLM(skip={'long?'})
    visual, prompts, owners = assemble_sequences(soft, samples, llm, False)
    assert owners == [1, 2] and len(visual) == 2
    assert llm.calls[0][1] is None and llm.calls[0][3] is None
    assert llm.calls[0][2] == 2 and llm.calls[0][4] == 0  # no prompt: 0
    # a sample without a path or id is named by its place in the batch
    samples[2].set_metainfo(dict(img_id=None))
    assemble_sequences(soft, samples, llm, False)
    assert llm.calls[-1][5] == '#2 of the batch'
    assert samples[1].metainfo['skipped_questions'] == [0]
    answers = per_image(owners, ['yes', 'no'], samples)
    assert answers == [[], ['', 'yes'], ['no']]
