/**
 * A zod schema for the parts of an ECS "Task State Change" event that drills read. Loose
 * on purpose (`looseObject`): ECS adds fields, and an unknown field must never make a
 * drill's STOPPED event unreadable.
 */
import { z } from 'zod';
import type { EcsTaskDetail } from '../domain/drills.js';

const nullableString = z.string().nullish().transform((v) => v ?? undefined);

export const EcsTaskDetailSchema = z.looseObject({
  taskArn: z.string().min(1),
  lastStatus: nullableString,
  startedBy: nullableString,
  group: nullableString,
  stopCode: nullableString,
  stoppedReason: nullableString,
  createdAt: nullableString,
  startedAt: nullableString,
  stoppedAt: nullableString,
  containers: z
    .array(z.looseObject({ name: nullableString, exitCode: z.number().int().nullish(), reason: nullableString, lastStatus: nullableString }))
    .optional(),
  overrides: z
    .looseObject({
      containerOverrides: z
        .array(z.looseObject({ name: nullableString, environment: z.array(z.looseObject({ name: nullableString, value: nullableString })).optional() }))
        .optional(),
    })
    .optional(),
});

export const EcsTaskStateChangeSchema = z.looseObject({
  'detail-type': z.literal('ECS Task State Change'),
  source: z.literal('aws.ecs'),
  detail: EcsTaskDetailSchema,
});

/** The detail as the drill workflows take it. */
export function toEcsTaskDetail(detail: z.infer<typeof EcsTaskDetailSchema>): EcsTaskDetail {
  return detail as EcsTaskDetail;
}
