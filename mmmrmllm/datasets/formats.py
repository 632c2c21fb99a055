"""Reading the documented mmmrmllm JSON format (see docs/data_format.md).

The same parsing serves :class:`MRMLLMJsonDataset`, the question files of
:class:`MRMLLMCocoDataset` and the converters in
``tools/dataset_converters``.
"""
import json
import os
import re
from typing import Any, Dict, List, Tuple

from mmmrmllm.utils.errors import UserError

IMAGE_TOKEN_RE = re.compile(r'\s*<image>\s*')
HUMAN_ROLES = ('human', 'user')
ASSISTANT_ROLES = ('gpt', 'assistant')


class FormatError(UserError):
    """A file does not follow the documented format."""


def load_json(path: str, what: str = 'annotation file') -> Any:
    """Parse a JSON file, whatever its extension (never a pickle).

    Raises:
        FileNotFoundError: If the file does not exist.
        FormatError: If it is empty, not UTF-8 or not valid JSON, naming
            the file (and the line and column).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} {path} does not exist')
    if os.path.getsize(path) == 0:
        raise FormatError(f'{path}: the {what} is empty')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise FormatError(f'{path}: the {what} is not valid JSON (line '
                          f'{err.lineno}, column {err.colno}: {err.msg})')
    except UnicodeDecodeError as err:
        raise FormatError(f'{path}: the {what} is not UTF-8 text (byte '
                          f'{err.start}); only JSON is read')


def load_records(path: str) -> Tuple[Dict[str, Any], List[dict]]:
    """Load a file in the documented format (or a plain LLaVA list).

    Args:
        path (str): A ``.json`` file: either a list of records (LLaVA
            style) or ``{"metainfo": {...}, "data_list": [...]}``.

    Returns:
        tuple[dict, list[dict]]: The metainfo and the raw records.

    Raises:
        FormatError: If the file is empty or has no records.
    """
    content = load_json(path)
    if isinstance(content, list):
        metainfo, records = {}, content
    elif isinstance(content, dict):
        metainfo = content.get('metainfo', {}) or {}
        records = content.get('data_list')
        if records is None:
            raise FormatError(
                f'{path}: expected a list of records or a dict with '
                f'"data_list", got keys {sorted(content)}')
    else:
        raise FormatError(f'{path}: expected a list or a dict, got '
                          f'{type(content).__name__}')
    if not records:
        raise FormatError(f'{path}: the annotation file has no records')
    return metainfo, records


def strip_image_token(text: str) -> str:
    """Remove LLaVA's ``<image>`` placeholder and surrounding whitespace."""
    return IMAGE_TOKEN_RE.sub(' ', text).strip()


def conversations_to_questions(conversations: List[dict],
                               record_id: Any = None) -> List[dict]:
    """Turn LLaVA ``conversations`` into question entries.

    Each human turn followed by an assistant turn becomes one question whose
    single reference answer is the assistant's reply.

    Args:
        conversations (list[dict]): Turns ``{"from": "human"|"gpt",
            "value": str}`` (``role``/``content`` also accepted).
        record_id (Any): Used to build question ids ``{record_id}_{k}``.

    Returns:
        list[dict]: ``{"id", "question", "answers", "type"}`` entries.

    Raises:
        FormatError: If a human turn has no assistant reply.
    """
    questions = []
    pending = None
    if not isinstance(conversations, list):
        raise FormatError(f'record {record_id!r}: "conversations" must be a '
                          f'list of turns, got {type(conversations).__name__}')
    for k, turn in enumerate(conversations):
        if not isinstance(turn, dict):
            raise FormatError(f'record {record_id!r}: turn {k} must be an '
                              f'object, got {turn!r:.100}')
        role = turn.get('from', turn.get('role'))
        value = turn.get('value', turn.get('content'))
        if not isinstance(value, str):
            raise FormatError(f'record {record_id!r}: turn {k} ({role!r}) '
                              f'has no text value, got {value!r:.100}')
        if role in HUMAN_ROLES:
            if pending is not None:
                raise FormatError(
                    f'record {record_id!r}: two human turns in a row')
            pending = strip_image_token(value)
        elif role in ASSISTANT_ROLES:
            if pending is None:
                raise FormatError(f'record {record_id!r}: an assistant turn '
                                  'without a human turn before it')
            qid = (f'{record_id}_{len(questions)}'
                   if record_id is not None else None)
            questions.append(
                dict(
                    id=qid,
                    question=pending,
                    answers=[value.strip()],
                    type=''))
            pending = None
        else:
            raise FormatError(f'record {record_id!r}: unknown role {role!r}')
    if pending is not None:
        raise FormatError(
            f'record {record_id!r}: the last human turn has no answer')
    return questions


def parse_question_entry(entry: dict, record: str) -> dict:
    """Normalise one question entry of the documented format.

    Accepts ``answers`` (list) or ``answer`` (str), ``type`` or
    ``question_type``, ``id`` or ``question_id``.
    """
    if not isinstance(entry, dict) or not isinstance(
            entry.get('question'), str) or not entry['question'].strip():
        raise FormatError(f'{record}: a question entry needs a non-empty '
                          f'"question" string, got {entry!r:.200}')
    answers = entry.get('answers', entry.get('answer'))
    if answers is None:
        answers = []
    elif isinstance(answers, str):
        answers = [answers]
    elif not isinstance(answers, (list, tuple)) or not all(
            isinstance(a, str) for a in answers):
        raise FormatError(f'{record}: "answers" must be a string or a list '
                          f'of strings, got {answers!r}')
    qtype = entry.get('type', entry.get('question_type', '')) or ''
    if not isinstance(qtype, str):
        raise FormatError(f'{record}: a question "type" must be a string, '
                          f'got {qtype!r}')
    qid = entry.get('id', entry.get('question_id'))
    if qid is not None and (isinstance(qid, bool)
                            or not isinstance(qid, (int, str))):
        raise FormatError(f'{record}: a question id must be an integer or '
                          f'a string, got {qid!r}')
    return dict(
        id=qid, question=entry['question'], answers=list(answers),
        type=qtype)


def record_questions(raw: dict, record: str) -> List[dict]:
    """All questions of a raw record (``questions`` and ``conversations``).

    Question ids default to ``{image_id}_{k}`` when the entry has none.
    """
    entries = raw.get('questions', [])
    if not isinstance(entries, list):
        raise FormatError(f'{record}: "questions" must be a list, got '
                          f'{type(entries).__name__}')
    questions = [parse_question_entry(q, record) for q in entries]
    if raw.get('conversations'):
        questions.extend(
            conversations_to_questions(
                raw['conversations'], raw.get('id', raw.get('image_id'))))
    base = raw.get('image_id', raw.get('id', raw.get('image')))
    for k, q in enumerate(questions):
        if q['id'] is None:
            q['id'] = f'{base}_{k}'
    return questions


def text_fields(questions: List[dict]) -> dict:
    """The sample's text fields (contracts.md) from question entries."""
    return dict(
        questions=[q['question'] for q in questions],
        gt_answers=[list(q['answers']) for q in questions],
        question_types=[q['type'] for q in questions],
        question_ids=[q['id'] for q in questions])


def record_image_key(raw: dict) -> Any:
    """The key that identifies a record's image: its id, else its path."""
    if raw.get('image_id') is not None:
        if isinstance(raw['image_id'], bool) or not isinstance(
                raw['image_id'], (int, str)):
            raise FormatError(f'record {raw.get("id")!r}: "image_id" must be '
                              f'an integer or a string, got '
                              f'{raw["image_id"]!r:.100}')
        return raw['image_id']
    if raw.get('image'):
        return raw['image']
    raise FormatError(f'record {raw.get("id")!r} names no image '
                      '("image" or "image_id")')


def group_by_image(records: List[dict]) -> Dict[Any, List[dict]]:
    """Group raw records by image, keeping first-seen order.

    LLaVA files have one record per conversation; several may share an
    image. They become one sample.
    """
    groups: Dict[Any, List[dict]] = {}
    for k, raw in enumerate(records):
        if not isinstance(raw, dict):
            raise FormatError(f'record {k} must be an object, got '
                              f'{raw!r:.100}')
        groups.setdefault(record_image_key(raw), []).append(raw)
    return groups
