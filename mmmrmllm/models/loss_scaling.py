"""Scaling and prefixing a part's losses (``det.*``, ``lm.*``)."""


def scaled_losses(losses: dict, prefix: str, weight: float) -> dict:
    """``losses`` with every ``*loss*`` entry times ``weight`` and the
    keys prefixed (``det.loss_cls``, ...)."""
    out = {}
    for key, val in losses.items():
        if 'loss' in key:
            val = [v * weight for v in val] if isinstance(
                val, (list, tuple)) else val * weight
        out[f'{prefix}.{key}'] = val
    return out
