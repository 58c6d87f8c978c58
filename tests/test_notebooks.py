"Every notebook runs top to bottom in a fresh kernel, as a reader would run it (cells marked `#| eval: false` skipped)."
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NBS = Path(__file__).resolve().parents[1] / 'nbs'
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('.', '_')))


def skipped(cell):
    "nbdev's `#| eval: false` marks a cell that must not run in tests."
    return any(line.replace(' ', '').startswith('#|eval:false') for line in cell.source.splitlines()[:5])


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv('TMPDIR', str(tmp_path))  # the notebook's tempfile folders go with the test's own
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not (c.cell_type == 'code' and skipped(c))]
    NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': str(NBS)}}).execute()
