#!/usr/bin/env python3
"""One comparison table over study runs (each a directory with sweep.h5 and <job>.h5).

For every study: steps, wall time, and per β of the sweep grid at the final step and training n:
median normalised loss (posterior sample and mean), median D_KL (nats), median coverage and the
majority class. Usage: compare_studies.py DIR [DIR ...] [--markdown OUT.md]
"""
import argparse
import collections
import os
import sys

import h5py
import numpy as np


def deck_value(deck, section, key):
    current = None
    for line in deck.splitlines():
        line = line.split('#', 1)[0].strip()
        if line.startswith('['):
            current = line.strip('[]')
        elif current == section and (line.startswith(key + ' ') or line.startswith(key + '=')):
            return line.split('=', 1)[1].strip().strip('"')
    return None


def summarise(directory):
    sweep_path = os.path.join(directory, 'sweep.h5')
    if not os.path.exists(sweep_path):
        return None, f'{directory}: no sweep.h5 (run hnet sweep on its deck)'
    with h5py.File(sweep_path, 'r') as f:
        deck = f.attrs['deck']
        classes = f.attrs['class_names'].split('\n')
        r = {k: f['records'][k][:] for k in f['records']}
    train_n = int(deck_value(deck, 'target', 'n'))
    last = r['step'].max()
    rows = []
    for beta in np.unique(r['log10_beta']):
        at = (r['step'] == last) & (r['n'] == train_n) & (r['log10_beta'] == beta)
        sample, mean = at & (r['posterior_mean'] == 0), at & (r['posterior_mean'] == 1)
        counts = collections.Counter(classes[c] for c in r['class'][sample])
        rows.append(dict(log10_beta=beta,
                         loss_sample=np.median(r['normalised_loss'][sample]),
                         loss_mean=np.median(r['normalised_loss'][mean]) if mean.any() else float('nan'),
                         kl=np.median(r['kl_nats'][sample]),
                         coverage=np.median(r['coverage'][sample]),
                         o1=np.median(r['o1'][sample]),
                         cls=counts.most_common(1)[0][0],
                         counts=dict(counts)))
    wall, steps = float('nan'), int(last)
    for name in sorted(os.listdir(directory)):
        if name.endswith('.h5') and name != 'sweep.h5':
            with h5py.File(os.path.join(directory, name), 'r') as f:
                if 'history/wall_seconds' in f and len(f['history/wall_seconds']):
                    wall = float(f['history/wall_seconds'][-1])
            break
    return dict(name=os.path.basename(os.path.normpath(directory)), steps=steps, wall=wall, rows=rows,
                classes=sorted({row['cls'] for row in rows})), None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('dirs', nargs='+')
    parser.add_argument('--markdown')
    args = parser.parse_args()
    out = []
    for d in args.dirs:
        s, problem = summarise(d)
        if problem:
            print(problem, file=sys.stderr)
            continue
        out.append(f"### {s['name']}\n")
        out.append(f"steps {s['steps']}, training wall time {s['wall']:.0f} s; majority classes over the β grid: "
                   f"{', '.join(s['classes'])}\n")
        out.append('| log10 β | norm. loss (sample) | norm. loss (mean) | D_KL (nats) | O₁ | coverage | class (counts) |')
        out.append('|---|---|---|---|---|---|---|')
        for row in s['rows']:
            counts = ', '.join(f'{k} {v}' for k, v in sorted(row['counts'].items()))
            out.append(f"| {row['log10_beta']:.2f} | {row['loss_sample']:.4g} | {row['loss_mean']:.4g} | "
                       f"{row['kl']:.4g} | {row['o1']:.2f} | {row['coverage']:.2f} | {row['cls']} ({counts}) |")
        out.append('')
    text = '\n'.join(out)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text + '\n')
    print(text)


if __name__ == '__main__':
    main()
