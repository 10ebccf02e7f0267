/**
 * `lifeboat service put|show|list|remove`: protect a service without CDK (self-hosted
 * stores, local servers, scripts): its policy is validated exactly as the construct's is
 * and written where the handlers and agents read it.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { normalizeServicePolicy, type ServicePolicyInput } from '../../lambdas/domain/service-policy.js';
import { type CliIO, openRegistry, serviceName } from './context.js';
import type { CommandResult } from './options.js';
import { say } from './output.js';

interface Flags {
  service?: string;
  policy?: string;
  table?: string;
  json?: boolean;
}

async function readPolicy(path: string, io: CliIO): Promise<ServicePolicyInput> {
  let text: string;
  try {
    text = path === '-' ? await readStdin(io) : await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the policy file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'pass --policy FILE.json (or - for stdin)',
    });
  }
  try {
    return JSON.parse(text) as ServicePolicyInput;
  } catch (err) {
    throw new UsageError(`the policy in ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readStdin(_io: CliIO): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerService(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  const service = program.command('service').description('protect services without CDK: write, show, list and remove their policies');
  service
    .command('put')
    .description('validate a policy (JSON) and store it; the service is protected from then on')
    .requiredOption('--policy <file>', 'the policy as JSON (a ServicePolicy; "-" reads stdin)')
    .option('--service <name>', "the service's name, when the file does not say (env LIFEBOAT_SERVICE)")
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'print the stored policy (with defaults filled in)')
    .action(async (flags: Flags) => {
      const input = await readPolicy(flags.policy!, io);
      const name = input.service ?? serviceName(flags.service, io.env);
      if (flags.service && input.service && flags.service !== input.service) {
        throw new UsageError(`--service ${flags.service} does not match the policy's service ${JSON.stringify(input.service)}`);
      }
      const policy = normalizeServicePolicy({ ...input, service: assertServiceName(name) });
      await openRegistry(flags, io).put(policy);
      if (flags.json) io.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
      say(io, `service ${policy.service} is protected (failover after ${policy.failover.timeoutSeconds} s)`);
    });
  service
    .command('show')
    .description("print a protected service's policy as JSON")
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .action(async (flags: Flags) => {
      const name = assertServiceName(serviceName(flags.service, io.env));
      const policy = await openRegistry(flags, io).get(name);
      if (!policy) {
        say(io, `service ${name} is not protected`);
        done({ exitCode: 1 });
        return;
      }
      io.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
    });
  service
    .command('list')
    .description('list the protected services, one per line')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'print a JSON array')
    .action(async (flags: Flags) => {
      const names = await openRegistry(flags, io).list();
      io.stdout.write(flags.json ? `${JSON.stringify(names)}\n` : names.map((n) => `${n}\n`).join(''));
    });
  service
    .command('remove')
    .description('stop protecting a service (its snapshots, drills and other records stay)')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .action(async (flags: Flags) => {
      const name = assertServiceName(serviceName(flags.service, io.env));
      const removed = await openRegistry(flags, io).remove(name);
      say(io, removed ? `service ${name} is no longer protected` : `service ${name} was not protected`);
    });
}
