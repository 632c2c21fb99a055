from .pretrained import (
                         load_instructblip,
                         load_mapped,
                         load_qformer,
                         read_state_dict,
                         save_instructblip,
                         summarize,
)

__all__ = [
    'load_instructblip', 'load_mapped', 'load_qformer', 'read_state_dict',
    'save_instructblip', 'summarize'
]
