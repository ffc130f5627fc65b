"""tools/analysis/ on sys.path, as for the scripts themselves: tests import their helpers."""
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
if osp.join(REPO, 'tools', 'analysis') not in sys.path:
    sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
