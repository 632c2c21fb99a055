"""MLLMDirectory: one reader of an InstructBLIP / BLIP-2 directory's
``config.json``, one spelling of its ``model_type``; the old module paths
still work and warn."""
import importlib
import json
import os
import os.path as osp
import sys

import pytest

from mmmrmllm.models import mllm_directory
from mmmrmllm.models.mllm_directory import (
    MLLMDirectory,
    fill_from_pretrained,
    read_mllm_config,
    resolve_instruction,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_dir(path, model_type: str) -> str:
    """A directory with only a ``config.json`` (and a Q-Former tokenizer
    folder), enough for everything that reads the config."""
    os.makedirs(osp.join(path, 'qformer_tokenizer'))
    cfg = dict(model_type=model_type, num_query_tokens=4,
               vision_config=dict(hidden_size=8, image_size=16),
               qformer_config=dict(hidden_size=8, num_hidden_layers=1),
               text_config=dict(model_type='llama', hidden_size=8))
    with open(osp.join(path, 'config.json'), 'w') as f:
        json.dump(cfg, f)
    return str(path)


@pytest.mark.parametrize('model_type,kind,reads', [
    ('instructblip', 'instructblip', True),
    ('blip-2', 'blip_2', False),
    ('blip_2', 'blip_2', False),
])
def test_both_former_readers_agree(tmp_path, model_type, kind, reads):
    """The instruction defaults (formerly ``pretrained_model_type``, which
    compared the raw ``'blip-2'``) and the part configs (formerly
    ``read_mllm_config``, which normalised to ``'blip_2'``) read the same
    directory the same way."""
    path = write_dir(tmp_path / 'mllm', model_type)
    assert read_mllm_config(path)['model_type'] == kind
    assert MLLMDirectory(path).model_type == kind
    assert MLLMDirectory.read(path) == read_mllm_config(path)
    use, tok, text = resolve_instruction(path, None, None, None)
    assert use is reads
    assert tok == (osp.join(path, 'qformer_tokenizer') if reads else None)
    assert text == 'prompt'
    vision, fusion, llm = fill_from_pretrained(
        path, dict(type='HFVisionEncoder'), dict(type='SharedQueryFusion'),
        dict(type='LLMHead'))
    assert vision['model_cfg']['model_type'] == \
        f'{kind}_vision_model'
    assert fusion['num_queries'] == 4
    assert llm['model_cfg']['model_type'] == 'llama'
    assert llm['tokenizer'] == path
    with pytest.warns(DeprecationWarning):
        from mmmrmllm.models.instruction import pretrained_model_type
    assert pretrained_model_type(path) == kind
    assert pretrained_model_type(str(tmp_path)) is None


def test_the_config_is_read_once(tmp_path, monkeypatch):
    path = write_dir(tmp_path / 'mllm', 'instructblip')
    from mmmrmllm.models.mllm_directory import directory
    calls = []

    def counted(p):
        calls.append(p)
        return read_mllm_config(p)

    monkeypatch.setattr(directory, 'read_mllm_config', counted)
    mllm = MLLMDirectory(path)
    assert resolve_instruction(mllm, None, None, 'question') == \
        (True, osp.join(path, 'qformer_tokenizer'), 'question')
    _, _, llm = mllm.build_parts(None, dict(type='SharedQueryFusion'),
                                 dict(type='LLMHead'))
    assert llm['token_layout'] == 'visual_first'
    _, _, llm = mllm.build_parts(None, None,
                                 dict(type='LLMHead', token_layout='t'))
    assert llm['token_layout'] == 't'
    assert calls == [path]


def test_errors_name_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match='no config.json'):
        MLLMDirectory(str(tmp_path)).config
    with pytest.raises(FileNotFoundError, match='model_dir'):
        read_mllm_config(str(tmp_path), what='model_dir')
    path = write_dir(tmp_path / 'llava', 'llava')
    with pytest.raises(ValueError, match='is not instructblip or blip-2'):
        resolve_instruction(path, None, None, None)


def test_one_module_reads_config_json():
    """Only ``mllm_directory/config.py`` parses a ``config.json`` in the
    package and the tools."""
    readers = []
    for top in ('mmmrmllm', 'tools'):
        for folder, _, files in os.walk(osp.join(ROOT, top)):
            for name in files:
                if not name.endswith('.py'):
                    continue
                file = osp.join(folder, name)
                with open(file) as f:
                    code = f.read()
                if "'config.json'" in code and 'json.load' in code:
                    readers.append(osp.relpath(file, ROOT))
    assert readers == [
        osp.join('mmmrmllm', 'models', 'mllm_directory', 'config.py')
    ]


OLD_MODULES = {
    'mmmrmllm.models.utils': ('load_instructblip', 'load_mapped',
                              'load_qformer', 'read_state_dict',
                              'save_instructblip', 'summarize'),
    'mmmrmllm.models.utils.pretrained': ('load_instructblip',
                                         'instructblip_state',
                                         'save_instructblip'),
    'mmmrmllm.models.utils.pretrained_config': ('read_mllm_config',
                                                'fill_from_pretrained'),
    'mmmrmllm.models.utils.pretrained_card': ('model_card',
                                              'processor_text',
                                              'qformer_reads'),
}


@pytest.mark.parametrize('old', sorted(OLD_MODULES))
def test_old_module_paths_warn_and_export_the_same(old, monkeypatch):
    for name in [m for m in sys.modules if m.startswith(old)]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.warns(DeprecationWarning, match='mllm_directory'):
        module = importlib.import_module(old)
    for name in OLD_MODULES[old]:
        new = getattr(mllm_directory, name, None) or getattr(
            mllm_directory.card, name)
        assert getattr(module, name) is new


@pytest.mark.parametrize('name', ['resolve_instruction',
                                  'load_instruction_tokenizer'])
def test_moved_instruction_names_warn(name):
    from mmmrmllm.models import instruction
    with pytest.warns(DeprecationWarning, match=name):
        old = getattr(instruction, name)
    assert old is getattr(mllm_directory, name)
    with pytest.raises(AttributeError):
        instruction.no_such_name
