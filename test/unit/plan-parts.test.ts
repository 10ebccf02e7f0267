import type { Stats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planParts } from '../../lambdas/engine/part-plan.js';
import type { WalkedNode } from '../../lambdas/engine/walk.js';

const node = (path: string, type: WalkedNode['type'], size = 0, target?: string): WalkedNode => ({
  path,
  type,
  stats: { size } as Stats,
  ...(target ? { target } : {}),
});

describe('planParts', () => {
  it('fills parts in walk order up to the target size without splitting files', () => {
    const nodes = [node('.', 'dir'), node('a', 'file', 60), node('b', 'file', 60), node('c', 'dir'), node('c/d', 'file', 200), node('e', 'file', 10)];
    const plan = planParts(nodes, 100);
    expect(plan.partOf).toEqual([0, 0, 1, 1, 2, 3]);
    expect(plan.parts).toEqual([
      { compression: 'zstd', indices: [0, 1] },
      { compression: 'zstd', indices: [2, 3] },
      { compression: 'zstd', indices: [4] },
      { compression: 'zstd', indices: [5] },
    ]);
  });

  it('puts a hard link into its target part, whatever part is being filled', () => {
    const nodes = [node('.', 'dir'), node('a', 'file', 90), node('b', 'file', 90), node('z', 'hardlink', 0, 'a')];
    const plan = planParts(nodes, 100);
    expect(plan.partOf).toEqual([0, 0, 1, 0]);
    expect(plan.parts[0]!.indices).toEqual([0, 1, 3]);
  });

  it('keeps everything in one part when it fits', () => {
    const nodes = [node('.', 'dir'), node('a', 'symlink'), node('b', 'file', 5)];
    expect(planParts(nodes, 100).parts).toEqual([{ compression: 'zstd', indices: [0, 1, 2] }]);
  });

  it('groups incompressible files into uncompressed parts, with their hard links', () => {
    const nodes = [
      node('.', 'dir'),
      node('r1', 'file', 80),
      node('t', 'file', 10),
      node('r2', 'file', 80),
      node('l', 'hardlink', 0, 'r2'),
      node('u', 'file', 5),
    ];
    const raw = new Set([1, 3]);
    const plan = planParts(nodes, 100, (i) => raw.has(i));
    expect(plan.parts).toEqual([
      { compression: 'zstd', indices: [0, 2, 5] },
      { compression: 'none', indices: [1] },
      { compression: 'none', indices: [3, 4] },
    ]);
    expect(plan.partOf).toEqual([0, 1, 0, 2, 2, 0]);
  });
});
