"""What the detection metrics share: only box-annotated samples count."""
from mmengine.logging import MMLogger


def annotated_results(metric: object, results: list) -> list:
    """The results of box-annotated samples.

    A detection metric's ``process`` leaves ``None`` for a sample without
    box annotations (``has_det_ann=False``): MMEngine cuts and merges
    results across ranks assuming one result per sample.

    Args:
        metric: The metric (named in the warning when nothing is left).
        results (list): Its collected results.

    Returns:
        list: The results that are not ``None``.
    """
    results = [r for r in results if r is not None]
    if not results:
        MMLogger.get_current_instance().warning(
            f'{type(metric).__name__}: no box-annotated samples to '
            'evaluate')
    return results
