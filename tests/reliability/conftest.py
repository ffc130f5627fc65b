"""Shared inputs of the reliability tests: tiny media and a tiny tokenizer (session-wide)."""
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import toy_run  # noqa: E402


@pytest.fixture(scope='session')
def rel_media(tmp_path_factory):
    """4 toy videos (16 frames, 64x64) and 4 JPEG images with their lists."""
    return toy_run.make_media(str(tmp_path_factory.mktemp('rel_media')))


@pytest.fixture(scope='session')
def rel_tokenizer(tmp_path_factory):
    """Weights of the tiny VQVAETokenizer of the shrunk configs."""
    return toy_run.make_tokenizer(str(tmp_path_factory.mktemp('rel_tok') / 'tok.pth'))
