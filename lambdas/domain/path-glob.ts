/**
 * Path patterns for `restore --include/--exclude` and `lifeboat find`. Pure.
 *
 * Paths are a snapshot's relative POSIX paths (`db/base/1/16384`, never a leading `/`).
 * Syntax (gitignore-like, the rules restic users expect):
 *   `*`        any run of characters within one path segment (not `/`)
 *   `**`       any number of whole segments, including none (`db/**` , `**\/*.log`)
 *   `?`        one character other than `/`
 *   `[abc]` `[a-z]` `[!a-z]`   one character of (not of) a set
 *   `{a,b}`    either alternative (no nesting)
 *   `\x`       the character x itself
 * A pattern with no `/` (other than a trailing one) matches a name at any depth (`*.log`);
 * a pattern with a `/` is anchored at the snapshot root (`db/pg_wal`); a leading `/` only
 * says so explicitly. A trailing `/` matches directories only. A pattern that matches a
 * directory selects everything under it.
 */
import { UsageError } from './errors.js';

export interface PathPattern {
  /** The pattern as given, for messages. */
  readonly text: string;
  /** Whether `path` (of an entry of type `isDir`) matches the pattern itself (not through a parent). */
  matches(path: string, isDir: boolean): boolean;
}

const SYNTAX_HINT = 'patterns use *, **, ?, [a-z], {a,b} and \\ to escape; see "Patterns" in the README';

function bad(text: string, why: string): UsageError {
  return new UsageError(`pattern ${JSON.stringify(text)} is not valid: ${why}`, { hint: SYNTAX_HINT });
}

const escapeRe = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');

/** The regular expression source of one glob (without anchors). */
function globSource(text: string, glob: string): string {
  let out = '';
  let i = 0;
  let inBraces = false;
  while (i < glob.length) {
    const c = glob[i]!;
    if (c === '\\') {
      if (i + 1 >= glob.length) throw bad(text, 'it ends with a lone "\\"');
      out += escapeRe(glob[i + 1]!);
      i += 2;
    } else if (c === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        const atEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (!atStart || !atEnd) throw bad(text, '"**" must be a whole path segment, as in "a/**/b" or "**/*.log"');
        if (i + 2 === glob.length) {
          out += '.*';
          i += 2;
        } else {
          // `**/` : zero or more whole segments.
          out += '(?:[^/]*/)*';
          i += 3;
        }
      } else {
        out += '[^/]*';
        i += 1;
      }
    } else if (c === '?') {
      out += '[^/]';
      i += 1;
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) throw bad(text, 'a "[" has no closing "]"');
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') throw bad(text, 'an empty character set "[]"');
      const set = body.replace(/[\\\]^]/g, '\\$&');
      out += negate ? `[^/${set}]` : `[${set}]`;
      i = end + 1;
    } else if (c === '{') {
      if (inBraces) throw bad(text, 'braces cannot be nested');
      inBraces = true;
      out += '(?:';
      i += 1;
    } else if (c === ',' && inBraces) {
      out += '|';
      i += 1;
    } else if (c === '}' && inBraces) {
      inBraces = false;
      out += ')';
      i += 1;
    } else {
      out += escapeRe(c);
      i += 1;
    }
  }
  if (inBraces) throw bad(text, 'a "{" has no closing "}"');
  return out;
}

/** Compiles one pattern; throws a UsageError naming it when it is malformed. */
export function compilePattern(text: string): PathPattern {
  if (text.length === 0) throw bad(text, 'it is empty');
  if (text.includes('\0')) throw bad(text, 'it contains a NUL character');
  let glob = text;
  const dirOnly = glob.endsWith('/') && glob.length > 1;
  if (dirOnly) glob = glob.replace(/\/+$/, '');
  const anchored = glob.startsWith('/') || glob.includes('/');
  glob = glob.replace(/^\/+/, '');
  if (glob === '' || glob === '.') {
    // `/` or `.`: the root, hence everything.
    return { text, matches: () => true };
  }
  if (glob.split('/').some((s) => s === '..' || s === '.')) throw bad(text, 'paths in a snapshot have no "." or ".." segments');
  const re = new RegExp(`^${anchored ? '' : '(?:[^/]*/)*'}${globSource(text, glob)}$`, 's');
  return {
    text,
    matches: (path, isDir) => (!dirOnly || isDir) && re.test(path),
  };
}

export function compilePatterns(texts: readonly string[]): PathPattern[] {
  return texts.map(compilePattern);
}

/** An entry of a snapshot as selection sees it (every manifest version has these). */
export interface SelectableEntry {
  path: string;
  type: string;
}

export interface Selection {
  /** Paths chosen by the patterns (and everything under a chosen directory). */
  selected: Set<string>;
  /** Directories that must exist for the selected paths to have a place (the root included). */
  ancestors: Set<string>;
  /** How many entries each pattern matched itself, in the order given. */
  hits: { pattern: string; kind: 'include' | 'exclude'; matched: number }[];
}

function ancestorsOf(path: string, into: Set<string>): void {
  into.add('.');
  let i = path.indexOf('/');
  while (i !== -1) {
    into.add(path.slice(0, i));
    i = path.indexOf('/', i + 1);
  }
}

/**
 * Which entries a partial restore writes. `entries` must be in manifest order (a directory
 * before its contents). An entry is selected when it, or a directory above it, matches an
 * include (all entries when there are no includes) and neither it nor a directory above it
 * matches an exclude. Throws a UsageError naming every pattern that matched nothing, so a
 * typo never silently restores the wrong thing (and nothing is written).
 */
export function selectEntries(entries: Iterable<SelectableEntry>, options: { include?: readonly string[]; exclude?: readonly string[] }): Selection {
  const include = compilePatterns(options.include ?? []);
  const exclude = compilePatterns(options.exclude ?? []);
  const incHits = include.map(() => 0);
  const excHits = exclude.map(() => 0);
  const selected = new Set<string>();
  const ancestors = new Set<string>();
  // Directories chosen (or excluded) as a whole: their contents follow without matching.
  const includedDirs = new Set<string>();
  const excludedDirs = new Set<string>();
  const under = (set: Set<string>, path: string) => {
    if (set.size === 0) return false;
    for (let i = path.lastIndexOf('/'); i !== -1; i = path.lastIndexOf('/', i - 1)) if (set.has(path.slice(0, i))) return true;
    return false;
  };
  for (const e of entries) {
    if (e.path === '.') continue;
    const isDir = e.type === 'dir';
    let excluded = under(excludedDirs, e.path);
    if (!excluded) {
      exclude.forEach((p, i) => {
        if (p.matches(e.path, isDir)) {
          excHits[i]!++;
          excluded = true;
        }
      });
      if (excluded && isDir) excludedDirs.add(e.path);
    }
    let included = include.length === 0 || under(includedDirs, e.path);
    include.forEach((p, i) => {
      if (p.matches(e.path, isDir)) {
        incHits[i]!++;
        included = true;
      }
    });
    if (included && isDir) includedDirs.add(e.path);
    if (included && !excluded) {
      selected.add(e.path);
      ancestorsOf(e.path, ancestors);
    }
  }
  const hits = [
    ...include.map((p, i) => ({ pattern: p.text, kind: 'include' as const, matched: incHits[i]! })),
    ...exclude.map((p, i) => ({ pattern: p.text, kind: 'exclude' as const, matched: excHits[i]! })),
  ];
  const unmatched = hits.filter((h) => h.matched === 0);
  if (unmatched.length > 0) {
    throw new UsageError(
      `${unmatched.map((h) => `--${h.kind} ${JSON.stringify(h.pattern)}`).join(', ')} matched nothing in the snapshot; nothing was written`,
      {
        hint: 'check the path with `lifeboat ls SNAPSHOT` (paths are relative to the data directory, like db/base)',
      },
    );
  }
  if (include.length > 0 && selected.size === 0) {
    throw new UsageError('the patterns select no path (every match is excluded); nothing was written', { hint: 'loosen --exclude' });
  }
  return { selected, ancestors, hits };
}
