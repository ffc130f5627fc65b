"""Import a script of ``tools/`` or ``demo/`` as a module, for tests."""
import importlib.util
import os.path as osp
from types import ModuleType
from typing import Optional


def load_script(path: str, name: Optional[str] = None) -> ModuleType:
    """Execute the script at ``path`` afresh and return it as a module.

    Args:
        path: The ``.py`` file.
        name: Module name; default ``bevt_tool_<file name>``. The module is not
            added to ``sys.modules``.

    Returns:
        The module, with the script's functions and constants (its
        ``if __name__ == '__main__'`` block does not run).
    """
    name = name or 'bevt_tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
