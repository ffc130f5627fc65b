"""demo/ and tools/analysis/ on sys.path, as for the demo scripts: tests import their helpers."""
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
for folder in (osp.join(REPO, 'tools', 'analysis'), osp.join(REPO, 'demo')):
    if folder not in sys.path:
        sys.path.insert(0, folder)
