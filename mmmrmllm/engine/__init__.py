from .fsdp import FrozenStateFSDPStrategy, block_auto_wrap_policy  # noqa: F401,E501
from .hooks import *  # noqa: F401,F403
from .loops import SkipAheadIterBasedTrainLoop  # noqa: F401
from .optimizers import *  # noqa: F401,F403
