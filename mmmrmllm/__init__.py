from .utils.check_env import check_environment
from .version import __version__, version_info

check_environment()

from .utils.compat import apply_compat  # noqa: E402

apply_compat()

__all__ = ['__version__', 'version_info']
