"""Config loading of the analysis tools."""
import os.path as osp

from mmengine.config import Config


def load_config(path: str) -> Config:
    """``Config.fromfile``, also for ``package::relative/path.py`` config names.

    Args:
        path (str): A config file, or ``package::path`` inside an installed
            OpenMMLab package.

    Returns:
        Config: The loaded config.
    """
    if '::' in path and not osp.exists(path):
        import importlib.util
        package, rel = path.split('::', 1)
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f'{path}: package {package!r} is not installed')
        root = list(spec.submodule_search_locations)[0]
        candidate = osp.join(root, '.mim', 'configs', rel)
        if not osp.exists(candidate):
            raise FileNotFoundError(f'{path}: no {candidate}')
        path = candidate
    return Config.fromfile(path)
