#!/usr/bin/env python
"""Carry edits of generated modules back into their notebooks, as nbdev's `nbdev_update` does: each
`# %% ../nbs/<notebook> <cell id>` part of a module replaces the code of that cell (its `#|` directives kept, imports
of the package made absolute again); a part whose cell id the notebook lacks becomes a new `#| export` cell after the
previous part's cell; an exported cell no part names any more is removed. Export again afterwards and check:

    python nbs/update_notebooks.py deepfake/files.py deepfake/cli.py
    python nbs/notebook2script.py && python nbs/notebook2script.py --check

The notebook stays the source of truth: this is for an edit made where the code reads best, never a reason to skip
the notebook's prose and examples.
"""
import argparse
import configparser
import json
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PART = re.compile(r'^# %% \.\./nbs/(\S+\.ipynb) (\S+)$', re.M)


def lines(text):
    "A notebook cell's source: the text as a list of lines, each but the last ending in a newline."
    parts = text.split('\n')
    return [p + '\n' for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def directives(source):
    "The `#|` lines at the top of a cell."
    head = []
    for line in source.splitlines():
        if not (line.strip().startswith('#|') or not line.strip()):
            break
        head.append(line)
    while head and not head[-1].strip():
        head.pop()
    return head


def absolute(code, lib):
    "The package's relative imports made absolute again, as the notebooks write them."
    code = re.sub(r'^(\s*)from \.(\w)', rf'\1from {lib}.\2', code, flags=re.M)
    return re.sub(r'^(\s*)from \. import', rf'\1from {lib} import', code, flags=re.M)


def library_name():
    "The package's name, from settings.ini."
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'settings.ini')
    return cfg['DEFAULT']['lib_name']


def update(module, lib=None):
    "Write the parts of the generated `module` into the cells of its notebook; returns the notebook's path."
    lib = lib or library_name()
    pieces = PART.split(Path(module).read_text())
    parts = [(pieces[i], pieces[i + 1], pieces[i + 2].strip('\n')) for i in range(1, len(pieces), 3)]
    path = ROOT / 'nbs' / parts[0][0]
    nb = json.loads(path.read_text())
    cells = nb['cells']
    exported = {c['id'] for c in cells if c['cell_type'] == 'code' and re.search(r'^#\|\s*export', ''.join(c['source']), re.M)}
    previous = None
    for _, cell_id, code in parts:
        code = absolute(code, lib)
        ids = [c.get('id') for c in cells]
        if cell_id in ids:
            cell = cells[ids.index(cell_id)]
            old = ''.join(cell['source'])
            cell['source'] = lines('\n'.join(directives(old) + [code]) + ('\n' if old.endswith('\n') else ''))
        else:
            at = ids.index(previous) + 1 if previous else len(cells)
            cells.insert(at, dict(cell_type='code', execution_count=None, id=cell_id or secrets.token_hex(4), metadata={},
                                  outputs=[], source=lines('#| export\n' + code)))
        previous = cell_id
    nb['cells'] = [c for c in cells if c.get('id') not in exported - {p[1] for p in parts}]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('modules', nargs='+', help='generated modules, e.g. deepfake/files.py')
    for module in p.parse_args(argv).modules:
        print(f'updated {update(module).relative_to(ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
