/**
 * Lambda entry behind the CDK construct's `protect()`: a CloudFormation custom resource
 * (`Custom::LifeboatService`) that stores a protected service's policy where every handler
 * and agent reads it — through `DynamoServiceRegistry.put`, the same code path as every
 * other writer, so the items (`SVC#<service>`/`CONFIG` and `REGISTRY`/`SVC#<service>`) can
 * never drift from what `DynamoServiceRegistry.get` reads.
 *
 * Resource properties: `{ "Policy": "<JSON of a ServicePolicyInput>" }`. The policy travels
 * as one JSON string because CloudFormation turns every number and boolean in a custom
 * resource's properties into a string. It is checked again here with
 * `normalizeServicePolicy`, now that CloudFormation has resolved every token (the construct
 * could only check literal values at synth).
 *
 * - Create / Update: put the policy, owned by `<stack id>/<logical id>`; the physical id is
 *   `service:<name>`, so renaming the service replaces the resource and CloudFormation then
 *   deletes the old name.
 * - Delete: remove the service only if this resource wrote its policy; a `protect()` moved
 *   to another construct id (create new, then delete old) keeps the service protected.
 *   Snapshots, drills and reports are never touched.
 *
 * Environment: LIFEBOAT_TABLE, plus the SDK's own (AWS_REGION...).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import type { ServiceRegistry } from '../adapters/service-registry.js';
import { UsageError } from '../domain/errors.js';
import { normalizeServicePolicy, type ServicePolicyInput } from '../domain/service-policy.js';
import { lambdaRuntime } from '../runtime/runtime.js';

const PHYSICAL_ID_PREFIX = 'service:';

const CustomResourceEvent = z.looseObject({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  ResponseURL: z.string().url(),
  StackId: z.string(),
  RequestId: z.string(),
  LogicalResourceId: z.string(),
  PhysicalResourceId: z.string().optional(),
  ResourceProperties: z.looseObject({ Policy: z.string().optional() }),
});
export type CustomResourceEvent = z.infer<typeof CustomResourceEvent>;

export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  Data?: Record<string, string>;
}

export interface ServiceConfigRuntime {
  readonly registry: ServiceRegistry;
  readonly logger?: Pick<Logger, 'info' | 'error'>;
}

/** Sends the response to CloudFormation's pre-signed URL. */
export type Respond = (url: string, response: CustomResourceResponse) => Promise<void>;

/** PUT to the pre-signed S3 URL, as cfn-response does (an empty content type is what was signed). */
export async function respondToCloudFormation(url: string, response: CustomResourceResponse): Promise<void> {
  const body = JSON.stringify(response);
  let lastError: unknown;
  // CloudFormation waits up to an hour for an answer that never comes: retry a few times.
  for (let attempt = 1; attempt <= 4; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'PUT',
        body,
        headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return;
      lastError = new Error(`CloudFormation's response URL answered HTTP ${res.status}`);
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
  }
  throw lastError;
}

function parsePolicy(text: string | undefined): ServicePolicyInput {
  if (text === undefined) throw new UsageError('the custom resource has no Policy property');
  try {
    return JSON.parse(text) as ServicePolicyInput;
  } catch (err) {
    throw new UsageError(`the Policy property is not JSON: ${(err as Error).message}`);
  }
}

/** The runtime's adapters are read inside the request, so even a missing setting is answered to CloudFormation. */
export function createServiceConfigHandler(rt: ServiceConfigRuntime, respond: Respond = respondToCloudFormation) {
  return async function serviceConfig(raw: unknown): Promise<CustomResourceResponse> {
    // Without a ResponseURL there is no one to answer: let the invocation fail (and land in the DLQ).
    const event = CustomResourceEvent.parse(raw);
    let logger: ServiceConfigRuntime['logger'];
    const owner = `${event.StackId}/${event.LogicalResourceId}`;
    const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
    let response: CustomResourceResponse;
    try {
      logger = rt.logger;
      const registry = rt.registry;
      if (event.RequestType === 'Delete') {
        const id = event.PhysicalResourceId ?? '';
        // A resource whose Create failed has no service to remove.
        const removed = id.startsWith(PHYSICAL_ID_PREFIX) ? await registry.remove(id.slice(PHYSICAL_ID_PREFIX.length), { owner }) : false;
        logger?.info('service policy deleted', { physicalResourceId: id, removed, owner });
        response = { ...base, Status: 'SUCCESS', PhysicalResourceId: id || event.RequestId };
      } else {
        const policy = normalizeServicePolicy(parsePolicy(event.ResourceProperties.Policy));
        await registry.put(policy, { owner });
        logger?.info('service policy stored', { service: policy.service, requestType: event.RequestType, owner });
        response = { ...base, Status: 'SUCCESS', PhysicalResourceId: `${PHYSICAL_ID_PREFIX}${policy.service}`, Data: { Service: policy.service } };
      }
    } catch (err) {
      const hint = err instanceof UsageError && err.hint ? ` (${err.hint})` : '';
      const reason = `${(err as Error).message}${hint}`.slice(0, 3000);
      logger?.error('service policy not stored', { requestType: event.RequestType, reason });
      // An Update that fails keeps the old physical id, so CloudFormation rolls back to it;
      // a failed Create gets an id that the rollback's Delete recognises as nothing to remove.
      response = { ...base, Status: 'FAILED', Reason: reason, PhysicalResourceId: event.PhysicalResourceId ?? `failed:${event.RequestId}` };
    }
    await respond(event.ResponseURL, response);
    return response;
  };
}

/** Lambda entry point: the runtime is made here, its adapters on first use inside a request. */
export const handler = (event: unknown) => createServiceConfigHandler(lambdaRuntime())(event);
