import type { Stats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planParts } from '../../lambdas/agent/snapshot.js';
import type { WalkedNode } from '../../lambdas/agent/walk.js';

const node = (path: string, type: WalkedNode['type'], size = 0, target?: string): WalkedNode => ({
  path,
  type,
  stats: { size } as Stats,
  ...(target ? { target } : {}),
});

describe('planParts', () => {
  it('fills parts in walk order up to the target size without splitting files', () => {
    const nodes = [node('.', 'dir'), node('a', 'file', 60), node('b', 'file', 60), node('c', 'dir'), node('c/d', 'file', 200), node('e', 'file', 10)];
    expect(planParts(nodes, 100)).toEqual([0, 0, 1, 1, 2, 3]);
  });

  it('puts a hard link into its target part, whatever part is being filled', () => {
    const nodes = [node('.', 'dir'), node('a', 'file', 90), node('b', 'file', 90), node('z', 'hardlink', 0, 'a')];
    expect(planParts(nodes, 100)).toEqual([0, 0, 1, 0]);
  });

  it('keeps everything in one part when it fits', () => {
    const nodes = [node('.', 'dir'), node('a', 'symlink'), node('b', 'file', 5)];
    expect(planParts(nodes, 100)).toEqual([0, 0, 0]);
  });
});
