import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register all modules of mmmrmllm (and mmdet) into the registries.

    mmmrmllm's modules are imported from the ``locations`` of its
    registries (``mmmrmllm.registry``), the same places that building by
    name imports lazily.

    Args:
        init_default_scope (bool): Whether to set the default scope to
            ``mmmrmllm``, so that building by name searches mmmrmllm's
            registries first, then mmdet's, then MMEngine's. Defaults to True.
    """
    from mmdet.utils import register_all_modules as mmdet_register_all

    from mmmrmllm.registry import all_registries

    mmdet_register_all(init_default_scope=False)
    for registry in all_registries():
        registry.import_from_location()

    if not init_default_scope:
        return
    never_created = DefaultScope.get_current_instance() is None \
        or not DefaultScope.check_instance_created('mmmrmllm')
    if never_created:
        DefaultScope.get_instance('mmmrmllm', scope_name='mmmrmllm')
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != 'mmmrmllm':
        warnings.warn('The current default scope '
                      f'"{current_scope.scope_name}" is not "mmmrmllm", '
                      '`register_all_modules` will force the current '
                      'default scope to be "mmmrmllm". If this is not '
                      'expected, please set `init_default_scope=False`.')
        new_instance_name = f'mmmrmllm-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='mmmrmllm')
