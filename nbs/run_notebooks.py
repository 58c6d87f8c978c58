#!/usr/bin/env python
"""Execute the notebooks in `nbs/` top to bottom in a fresh kernel and keep their outputs, for a reader on the forge:
plots as PNG, tables, short logs. What changes from run to run without meaning is left out: execution counts, timing
metadata, progress bars and Python's warnings on stderr. Cells marked `#| eval: false` are not run.

    python nbs/run_notebooks.py                  # every notebook
    python nbs/run_notebooks.py 05_evaluate      # the notebooks whose names start so

The notebooks' temporary folders go in a fresh folder that is removed afterwards. Each notebook is written back
whole (`deepfake.files.write_atomic`). `notebook2script.py --check` keeps each notebook's outputs under its limit, and
all of them together under 3 MB.
"""
import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NBS = Path(__file__).resolve().parent
try:
    from deepfake.files import remove_tree, write_atomic
except ModuleNotFoundError:  # the package not installed: the one beside this script
    sys.path.insert(0, str(NBS.parent))
    from deepfake.files import remove_tree, write_atomic

# progress bars and warnings (`path:line: XWarning: ...`, which also names a folder of the machine it ran on)
NOISE = re.compile(r'\r|\d+%\|[█▏▎▍▌▋▊▉ ]*\||^\S*Warning: |^\S+:\d+: \w*Warning: |warnings\.warn\(', re.M)
WIDGETS = 'application/vnd.jupyter.widget-view+json'


def skipped(cell):
    "nbdev's `#| eval: false` marks a cell that must not run."
    return any(line.replace(' ', '').startswith('#|eval:false') for line in cell.source.splitlines()[:5])


def keep(output):
    "Whether an output means something to a reader: not a progress bar, a warning or a widget."
    if output.output_type == 'stream' and output.name == 'stderr' and NOISE.search(output.text):
        return False
    return not (output.output_type == 'display_data' and WIDGETS in output.get('data', {}))


def local_paths(output, tmp):
    """The output's text with the paths of the machine it ran on as a reader would write them: the run's temporary
    folder as `$TMPDIR`, the repository as `..` (the notebooks run in nbs/), the home folder as `~`."""
    def scrub(text):
        return text.replace(str(tmp), '$TMPDIR').replace(str(NBS.parent), '..').replace(str(Path.home()), '~')
    if 'text' in output:
        output.text = scrub(output.text)
    for key, value in output.get('data', {}).items():
        if key.startswith('text/') and isinstance(value, str):
            output.data[key] = scrub(value)
    return output


def clean(nb, tmp=None):
    """The executed notebook without what changes from run to run or names the machine: execution counts, timing,
    noise outputs, local paths (`local_paths`)."""
    for cell in nb.cells:
        cell.metadata.pop('execution', None)
        if cell.cell_type == 'code':
            cell.execution_count = None
            cell.outputs = [local_paths(o, tmp) if tmp else o for o in cell.outputs if keep(o)]
            for o in cell.outputs:
                if 'execution_count' in o:
                    o.execution_count = None
    return nb


def run(path, tmp):
    "Execute the notebook at `path` (the `eval: false` cells left as they are) and write it back with its outputs."
    nb = nbformat.read(path, as_version=4)
    runnable = [c for c in nb.cells if not (c.cell_type == 'code' and skipped(c))]
    executed = nbformat.v4.new_notebook(cells=runnable, metadata=nb.metadata)
    os.environ['TMPDIR'] = str(tmp)  # tempfile in the kernel (started after this) uses it
    NotebookClient(executed, timeout=900, kernel_name='python3', record_timing=False,
                   resources={'metadata': {'path': str(NBS)}}).execute()
    clean(nb, Path(tmp).resolve())
    text = nbformat.writes(nb)
    write_atomic(path, text if text.endswith('\n') else text + '\n')  # as `nbformat.write` ends the file


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('names', nargs='*', help='notebook name prefixes (default: all)')
    args = p.parse_args(argv)
    notebooks = sorted(q for q in NBS.glob('*.ipynb') if not q.name.startswith(('.', '_'))
                       and (not args.names or q.name.startswith(tuple(args.names))))
    for path in notebooks:
        tmp = Path(tempfile.mkdtemp(prefix='nbrun-'))
        try:
            run(path, tmp)
        finally:  # a folder this run made fresh with mkdtemp: nobody else's files are in it
            remove_tree(tmp)
        print(f'{path.name}: {sum(len(str(c.get("outputs", ""))) for c in nbformat.read(path, 4).cells):,} bytes of outputs')
    return 0


if __name__ == '__main__':
    sys.exit(main())
