import { describe, expect, it } from 'vitest';
import { formatPosition } from '../../bin/cli/output.js';

describe('formatPosition', () => {
  it('shows the default position (a snapshot time in epoch ms) as a UTC time, and other numbers as they are', () => {
    expect(formatPosition(Date.parse('2026-11-27T08:17:35.123Z'))).toBe('2026-11-27 08:17:35Z');
    expect(formatPosition(4711)).toBe('4711');
    expect(formatPosition(1.5)).toBe('1.5');
    expect(formatPosition(undefined)).toBe('-');
  });
});
