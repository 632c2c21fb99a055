"""Version and build checks run at ``import mmmrmllm``."""
from packaging.version import Version

SETUP_HINT = ('Run `make setup` (or `bash tools/setup_env.sh`) from the '
              'repository root and use `.venv/bin/python`; the README '
              'explains the pins.')

# (package, lowest allowed, first refused) -- see requirements/*.txt.
PINS = {
    'mmcv': ('2.0.0rc4', '2.2.0'),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmdet': ('3.3.0', '3.4.0'),
    'transformers': ('4.38.0', '4.52.0'),
}


def check_versions(versions: dict) -> None:
    """Raise ImportError if any installed version is outside the pins.

    Args:
        versions (dict): Package name -> installed version string.
    """
    for name, (low, high) in PINS.items():
        ver = versions.get(name)
        if ver is None:
            raise ImportError(f'mmmrmllm needs {name} ({low} <= version < '
                              f'{high}), which is not installed. '
                              f'{SETUP_HINT}')
        if not Version(low) <= Version(ver) < Version(high):
            raise ImportError(f'mmmrmllm needs {low} <= {name} < {high}, '
                              f'found {name} {ver}. {SETUP_HINT}')


def check_mmcv_ops() -> None:
    """Raise ImportError if mmcv was installed without its C++ ops."""
    try:
        import mmcv._ext  # noqa: F401
    except ImportError as err:
        raise ImportError(
            'mmcv is installed without its compiled ops (`mmcv._ext` is '
            'missing: mmcv-lite or a build for another torch), and '
            f'`import mmdet.models` needs them ({err}). {SETUP_HINT}') from err


def installed_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    versions = {}
    for name in PINS:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    return versions


def check_environment() -> None:
    check_versions(installed_versions())
    check_mmcv_ops()
