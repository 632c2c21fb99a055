import sys

import pytest

from mmmrmllm.utils.check_env import (
    SETUP_HINT,
    check_mmcv_ops,
    check_versions,
    installed_versions,
)


def test_installed_stack_passes():
    versions = installed_versions()
    check_versions(versions)
    check_mmcv_ops()


def test_version_outside_pin_says_what_to_run():
    versions = installed_versions()
    versions['mmcv'] = '2.2.0'
    with pytest.raises(ImportError) as err:
        check_versions(versions)
    assert 'mmcv 2.2.0' in str(err.value)
    assert 'make setup' in str(err.value)


def test_missing_package_is_named():
    versions = installed_versions()
    del versions['transformers']
    with pytest.raises(ImportError, match='transformers'):
        check_versions(versions)


def test_mmcv_without_ops_is_refused(monkeypatch):
    # A None entry in sys.modules makes `import mmcv._ext` raise ImportError,
    # as it does with mmcv-lite.
    monkeypatch.setitem(sys.modules, 'mmcv._ext', None)
    with pytest.raises(ImportError) as err:
        check_mmcv_ops()
    assert 'mmcv._ext' in str(err.value)
    assert SETUP_HINT in str(err.value)
