from .base import BaseFusion
from .qformer_layers import QFormerLayer
from .shared_query_fusion import SharedQueryFusion, resample_to_grid

__all__ = ['BaseFusion', 'QFormerLayer', 'SharedQueryFusion',
           'resample_to_grid']
