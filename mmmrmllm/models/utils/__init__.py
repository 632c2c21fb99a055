from .pretrained import (
                         load_instructblip,
                         load_mapped,
                         load_qformer,
                         read_state_dict,
                         summarize,
)

__all__ = [
    'load_instructblip', 'load_mapped', 'load_qformer', 'read_state_dict',
    'summarize'
]
