"""run_cells.py DIR [--no-matplotlib] — run the code cells of DIR/report.ipynb in DIR with plain
Python (no Jupyter): `display` is a stub, matplotlib is Agg or, with --no-matplotlib, made
unimportable.  Exit 0 when no cell raises; the cells' prints go to stdout."""
import json
import os
import sys

d = sys.argv[1]
if '--no-matplotlib' in sys.argv:
    sys.modules['matplotlib'] = None
    sys.modules['matplotlib.pyplot'] = None
else:
    try:
        import matplotlib
        matplotlib.use('Agg')
    except ImportError:
        pass
os.chdir(d)
nb = json.load(open('report.ipynb', encoding='utf-8'))
g = {'display': lambda x: print(f'display: {type(x).__name__} with {len(x)} rows')}
for i, c in enumerate(nb['cells']):
    if c['cell_type'] == 'code':
        exec(compile(''.join(c['source']), f'cell{i}', 'exec'), g)
print('run_cells.py: all cells ran')
