from .data_sample import (
                          TEXT_FIELDS,
                          MRMLLMDataSample,
                          answers_of,
                          has_det_ann,
                          questions_of,
                          sample_name,
                          sample_problem,
                          text_field,
)

__all__ = [
    'MRMLLMDataSample', 'TEXT_FIELDS', 'has_det_ann', 'questions_of',
    'answers_of', 'text_field', 'sample_name', 'sample_problem'
]
