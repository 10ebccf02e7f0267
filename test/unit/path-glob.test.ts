import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lambdas/domain/errors.js';
import { compilePattern, selectEntries } from '../../lambdas/domain/path-glob.js';

const m = (pattern: string, path: string, isDir = false) => compilePattern(pattern).matches(path, isDir);

describe('compilePattern', () => {
  it('matches a name at any depth when the pattern has no slash', () => {
    expect(m('*.log', 'app.log')).toBe(true);
    expect(m('*.log', 'var/log/app.log')).toBe(true);
    expect(m('*.log', 'var/log/app.log.1')).toBe(false);
    expect(m('pg_hba.conf', 'db/pg_hba.conf')).toBe(true);
  });

  it('anchors a pattern with a slash at the root', () => {
    expect(m('db/*.conf', 'db/pg_hba.conf')).toBe(true);
    expect(m('db/*.conf', 'old/db/pg_hba.conf')).toBe(false);
    expect(m('/app.log', 'app.log')).toBe(true);
    expect(m('/app.log', 'x/app.log')).toBe(false);
    // * stays inside one segment.
    expect(m('db/*', 'db/base/1')).toBe(false);
  });

  it('supports **, ?, sets, negated sets, braces and escapes', () => {
    expect(m('logs/**/*.gz', 'logs/a.gz')).toBe(true);
    expect(m('logs/**/*.gz', 'logs/2026/11/a.gz')).toBe(true);
    expect(m('logs/**', 'logs/2026/11/a.gz')).toBe(true);
    expect(m('**/x', 'a/b/x')).toBe(true);
    expect(m('file?.txt', 'file1.txt')).toBe(true);
    expect(m('file?.txt', 'file10.txt')).toBe(false);
    expect(m('[ab]*.txt', 'b1.txt')).toBe(true);
    expect(m('[!ab]*.txt', 'b1.txt')).toBe(false);
    expect(m('[!ab]*.txt', 'c1.txt')).toBe(true);
    expect(m('*.{jpg,png}', 'img/x.png')).toBe(true);
    expect(m('*.{jpg,png}', 'img/x.gif')).toBe(false);
    expect(m('a\\*b', 'a*b')).toBe(true);
    expect(m('a\\*b', 'axb')).toBe(false);
    expect(m('a.b', 'axb')).toBe(false);
  });

  it('matches only directories with a trailing slash', () => {
    expect(m('cache/', 'cache', true)).toBe(true);
    expect(m('cache/', 'cache', false)).toBe(false);
  });

  it('refuses malformed patterns, naming them', () => {
    for (const bad of ['', 'a/**b', '[abc', '{a,b', 'a\\', '../etc', '{a,{b}}']) expect(() => compilePattern(bad), bad).toThrow(UsageError);
    expect(() => compilePattern('[abc')).toThrow(/pattern "\[abc" is not valid/);
  });
});

describe('selectEntries', () => {
  const entries = [
    { path: '.', type: 'dir' },
    { path: 'db', type: 'dir' },
    { path: 'db/base', type: 'dir' },
    { path: 'db/base/1', type: 'file' },
    { path: 'db/base/2', type: 'file' },
    { path: 'db/pg_wal', type: 'dir' },
    { path: 'db/pg_wal/0001', type: 'file' },
    { path: 'db/pg_hba.conf', type: 'file' },
    { path: 'logs', type: 'dir' },
    { path: 'logs/a.log', type: 'file' },
  ];

  it('selects matches, everything under a matched directory, and the directories above', () => {
    const s = selectEntries(entries, { include: ['db/base'] });
    expect([...s.selected].sort()).toEqual(['db/base', 'db/base/1', 'db/base/2']);
    expect([...s.ancestors].sort()).toEqual(['.', 'db', 'db/base']);
  });

  it('applies excludes to matches and to whole directories', () => {
    const s = selectEntries(entries, { include: ['db'], exclude: ['pg_wal/'] });
    expect([...s.selected].sort()).toEqual(['db', 'db/base', 'db/base/1', 'db/base/2', 'db/pg_hba.conf']);
    const all = selectEntries(entries, { exclude: ['*.log'] });
    expect(all.selected.has('logs/a.log')).toBe(false);
    expect(all.selected.has('db/pg_wal/0001')).toBe(true);
  });

  it('refuses a pattern that matches nothing, naming it', () => {
    expect(() => selectEntries(entries, { include: ['db/base', 'nope/*'] })).toThrow(/--include "nope\/\*" matched nothing/);
    expect(() => selectEntries(entries, { include: ['db/base'], exclude: ['*.tmp'] })).toThrow(/--exclude "\*.tmp" matched nothing/);
    expect(() => selectEntries(entries, { include: ['logs/a.log'], exclude: ['logs/'] })).toThrow(/select no path/);
  });
});
