"""bevt_mm.datasets.ann_list: every delimiter, label mode and hint, and separator outcome."""
import pytest

from bevt_mm.datasets.ann_list import (AnnotationFormatError, LabelRangeError,
                                       read_annotation_list, windows_separators_to_posix)


def _read(tmp_path, text, **kwargs):
    ann = tmp_path / 'list.txt'
    ann.write_text(text)
    return read_annotation_list(str(ann), **kwargs)


@pytest.mark.parametrize('delimiter,text', [
    (' ', 'a b.mp4 3\nc.mp4   4\n'), ('\t', 'a b.mp4\t3\nc.mp4\t4\n'),
    (',', 'a b.mp4,3\nc.mp4,4\n')])
def test_every_delimiter_splits_at_the_last_field(tmp_path, delimiter, text):
    assert _read(tmp_path, text, delimiter=delimiter) == [('a b.mp4', 3), ('c.mp4', 4)]


def test_label_modes(tmp_path):
    text = 'x (1).mp4 0 2\ny.mp4 1\n'
    assert _read(tmp_path, text, multi_label=True) == [('x (1).mp4', [0, 2]), ('y.mp4', [1])]
    with pytest.raises(AnnotationFormatError, match="line 1: .*4 fields"):
        _read(tmp_path, text)  # a multi-label list read as a single-label one
    assert _read(tmp_path, text, with_label=False) == [('x (1).mp4 0 2', -1), ('y.mp4 1', -1)]
    assert _read(tmp_path, 'x (1).mp4\ny.mp4\n') == [('x (1).mp4', -1), ('y.mp4', -1)]
    for line, problem in (('y.mp4 1.5', "label '1.5' is not an integer"),
                          ('y.mp4 walking', "label 'walking' is not an integer")):
        with pytest.raises(AnnotationFormatError, match=problem):
            _read(tmp_path, f'{line}\n')


@pytest.mark.parametrize('labels,multi,hint', [
    ('1 2 3 4', False, 'looks 1-based'),  # Diving48-style 1..N
    ('0 1 2 7', False, 'set num_classes=8'),  # more classes than the head
    ('0 -2 1 3', False, 'fix the list'),  # negative
    ('0 1 2 3,4', True, 'set num_classes=5'),  # a multi-label line
])
def test_every_label_range_hint(tmp_path, labels, multi, hint):
    lines = [f'v{i}.mp4 {label.replace(",", " ")}' for i, label in enumerate(labels.split())]
    with pytest.raises(LabelRangeError, match=f'outside 0\\.\\.3 .*{hint}'):
        _read(tmp_path, '\n'.join(lines) + '\n', num_classes=4, multi_label=multi)
    _read(tmp_path, '\n'.join(lines) + '\n', multi_label=multi)  # unchecked without num_classes


def test_windows_separators_every_outcome(tmp_path):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / 'v.mp4').write_bytes(b'')
    assert windows_separators_to_posix(['a\\v.mp4', 'b.mp4'], str(tmp_path), 'l.txt') == [
        'a/v.mp4', 'b.mp4']  # only the / form exists: converted
    (tmp_path / 'a\\v.mp4').write_bytes(b'')  # a POSIX name holding a backslash: kept
    assert windows_separators_to_posix(['a\\v.mp4'], str(tmp_path), 'l.txt') == ['a\\v.mp4']
    # neither form exists: kept (the loader reports the missing file)
    assert windows_separators_to_posix(['c\\v.mp4'], str(tmp_path), 'l.txt') == ['c\\v.mp4']
