"""README.md and docs/*.md point only at files that exist in the repository: every relative
link, and every repository path written in backticks (``configs/...``, ``tools/...`` ...)."""
import glob
import os.path as osp
import re

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = ['README.md'] + sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'docs', '*.md'))) \
    + ['tools/convert/README.md']
#: top-level folders whose paths, written in backticks, must exist
REPO_DIRS = ('bevt_mm/', 'configs/', 'tools/', 'tests/', 'docs/', 'demo/')
LINK = re.compile(r'\]\(([^)\s]+)\)')
CODE = re.compile(r'`([^`\s]+)`')


def _targets(text: str):
    for m in LINK.finditer(text):
        target = m.group(1).split('#')[0]
        if target and not re.match(r'[a-z]+:', target):  # http:, https:, mailto:
            yield target, True
    for m in CODE.finditer(text):
        path = m.group(1).split('::')[0].rstrip('.,;:')
        if path.startswith(REPO_DIRS) and not re.search(r'[<>{}*$]|\.\.\.', path):
            yield path, False


@pytest.mark.parametrize('doc', DOCS)
def test_every_link_and_repo_path_exists(doc):
    base = osp.dirname(osp.join(ROOT, doc))
    missing = []
    for target, is_link in _targets(open(osp.join(ROOT, doc), encoding='utf-8').read()):
        path = osp.normpath(osp.join(base if is_link else ROOT, target))
        if not path.startswith(ROOT + osp.sep) and path != ROOT:
            missing.append(f'{target} (outside the repository)')
        elif not osp.exists(path):
            missing.append(target)
    assert not missing, f'{doc} points at files that do not exist: {sorted(set(missing))}'


def test_the_readme_has_what_a_newcomer_needs():
    text = open(osp.join(ROOT, 'README.md'), encoding='utf-8').read()
    assert len(text.splitlines()) <= 160
    for needed in ('make demo', 'make test', 'pip install -e', '@inproceedings', 'LICENSE',
                   '70.6', '71.4', '80.6', '81.1', '87.2'):
        assert needed in text, needed
    assert osp.isfile(osp.join(ROOT, 'LICENSE'))
