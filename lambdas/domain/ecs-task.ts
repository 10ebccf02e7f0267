/**
 * The ECS task, modelled once: the fields Lifeboat reads from an "ECS Task State Change"
 * event's `detail` and from a DescribeTasks answer (the same shape), as one zod schema and
 * the type it yields. Every reader uses it: the task-events and report handlers, member
 * observations (membership.ts), drill and dump-job endings, the reconciler's DescribeTasks
 * mapping and local mode's event emitter.
 *
 * Loose on purpose (`looseObject`): ECS adds fields, and an unknown field must never make
 * an event unreadable. A `null` reads as absent and a Date (the SDK's) as its ISO string,
 * so events and DescribeTasks answers come out alike. zod is a pure library: no I/O here.
 */
import { z } from 'zod';

const nameValue = z.looseObject({ name: z.string().optional(), value: z.string().optional() });

const EcsTaskFields = z.looseObject({
  taskArn: z.string().min(1),
  clusterArn: z.string().optional(),
  /** PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED. */
  lastStatus: z.string(),
  desiredStatus: z.string(),
  /** Increases with every change of the task; events may arrive late, twice or reordered. */
  version: z.number().int(),
  /** `service:<name>` for tasks of an ECS service, `family:<name>` for RunTask by default. */
  group: z.string().optional(),
  /** `ecs-svc/…` for service tasks; Lifeboat sets the drill or job id for the tasks it runs. */
  startedBy: z.string().optional(),
  taskDefinitionArn: z.string().optional(),
  createdAt: z.string().optional(),
  startedAt: z.string().optional(),
  stoppingAt: z.string().optional(),
  stoppedAt: z.string().optional(),
  updatedAt: z.string().optional(),
  stopCode: z.string().optional(),
  stoppedReason: z.string().optional(),
  attachments: z.array(z.looseObject({ type: z.string().optional(), details: z.array(nameValue).optional() })).optional(),
  containers: z
    .array(
      z.looseObject({
        name: z.string().optional(),
        exitCode: z.number().int().optional(),
        reason: z.string().optional(),
        lastStatus: z.string().optional(),
        networkInterfaces: z.array(z.looseObject({ privateIpv4Address: z.string().optional() })).optional(),
      }),
    )
    .optional(),
  overrides: z
    .looseObject({ containerOverrides: z.array(z.looseObject({ name: z.string().optional(), environment: z.array(nameValue).optional() })).optional() })
    .optional(),
});

/** null → absent, Date → ISO string, everywhere in the value. */
function normalise(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = normalise(v);
    return out;
  }
  return value;
}

export const EcsTaskSchema = z.preprocess(normalise, EcsTaskFields);

/** An ECS task as Lifeboat reads it. Functions take the `Pick` of it they need. */
export type EcsTask = z.output<typeof EcsTaskFields>;

/** The EventBridge envelope of an ECS task state change. */
export const EcsTaskStateChangeSchema = z.looseObject({
  id: z.string(),
  source: z.literal('aws.ecs'),
  'detail-type': z.literal('ECS Task State Change'),
  time: z.string(),
  detail: EcsTaskSchema,
});
export type EcsTaskStateChange = z.output<typeof EcsTaskStateChangeSchema>;

/** The task, or undefined when it lacks what Lifeboat needs (ARN, statuses, version). */
export function parseEcsTask(raw: unknown): EcsTask | undefined {
  const parsed = EcsTaskSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The environment variables set through RunTask container overrides, over all containers
 * (the first container that sets a name wins; Lifeboat sets its variables in one).
 */
export function overrideEnvironment(task: Pick<EcsTask, 'overrides'>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const c of task.overrides?.containerOverrides ?? []) {
    for (const v of c.environment ?? []) if (v.name && !(v.name in env)) env[v.name] = v.value ?? '';
  }
  return env;
}
