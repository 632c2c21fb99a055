import os

# Nothing downloads from a hub in tests: every test uses local files.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope='session')
def _register_modules():
    from mmmrmllm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
