/**
 * "ECS Task State Change" events shaped like the documented examples (Fargate, awsvpc):
 * the task's address is on its ENI attachment and on each container's network interface.
 */
export interface TaskEventOptions {
  taskArn: string;
  lastStatus: string;
  desiredStatus?: string;
  version: number;
  group?: string;
  startedBy?: string;
  ip?: string;
  time?: string;
  stoppedAt?: string;
  stoppingAt?: string;
  environment?: Record<string, string>;
  clusterArn?: string;
}

export function taskStateChange(o: TaskEventOptions) {
  const ip = o.ip ?? '10.0.1.163';
  const time = o.time ?? '2026-11-27T12:00:00.000Z';
  const clusterArn = o.clusterArn ?? 'arn:aws:ecs:us-east-1:123456789012:cluster/prod';
  return {
    version: '0',
    id: `evt-${o.taskArn.slice(-6)}-${o.version}`,
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: '123456789012',
    time,
    region: 'us-east-1',
    resources: [o.taskArn],
    detail: {
      attachments: [
        {
          id: 'fe3a9a46-6a47-40ee-afd9-7952ae90a75a',
          type: 'eni',
          status: o.lastStatus === 'STOPPED' ? 'DELETED' : 'ATTACHED',
          details: [
            { name: 'subnetId', value: 'subnet-0d0eab1bb38d5ca64' },
            { name: 'networkInterfaceId', value: 'eni-0103a2f01bad57d71' },
            { name: 'macAddress', value: '0e:50:d1:c1:77:81' },
            { name: 'privateDnsName', value: `ip-${ip.replaceAll('.', '-')}.ec2.internal` },
            { name: 'privateIPv4Address', value: ip },
          ],
        },
      ],
      attributes: [{ name: 'ecs.cpu-architecture', value: 'x86_64' }],
      availabilityZone: 'us-east-1b',
      capacityProviderName: 'FARGATE',
      clusterArn,
      connectivity: 'CONNECTED',
      connectivityAt: '2026-11-27T11:59:40.190Z',
      containers: [
        {
          containerArn: `${o.taskArn.replace(':task/', ':container/')}/a0a99b87-baa8-4bf6-b9f1-a9a95917a635`,
          lastStatus: o.lastStatus,
          ...(o.lastStatus === 'STOPPED' ? { exitCode: 137 } : {}),
          name: 'app',
          image: 'wiki:1',
          taskArn: o.taskArn,
          networkInterfaces: [{ attachmentId: 'fe3a9a46-6a47-40ee-afd9-7952ae90a75a', privateIpv4Address: ip }],
          cpu: '0',
        },
      ],
      cpu: '256',
      createdAt: '2026-11-27T11:59:30.877Z',
      desiredStatus: o.desiredStatus ?? (o.lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING'),
      enableExecuteCommand: false,
      group: o.group ?? 'service:wiki',
      launchType: 'FARGATE',
      lastStatus: o.lastStatus,
      memory: '512',
      overrides: {
        containerOverrides: [
          { name: 'app', ...(o.environment ? { environment: Object.entries(o.environment).map(([name, value]) => ({ name, value })) } : {}) },
        ],
      },
      platformVersion: '1.4.0',
      startedAt: '2026-11-27T11:59:55.325Z',
      startedBy: o.startedBy ?? 'ecs-svc/9223370556150183303',
      ...(o.stoppingAt ? { stoppingAt: o.stoppingAt } : {}),
      ...(o.stoppedAt ? { stoppedAt: o.stoppedAt, stopCode: 'TaskFailedToStart', stoppedReason: 'Essential container in task exited' } : {}),
      taskArn: o.taskArn,
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/wiki:5',
      updatedAt: time,
      version: o.version,
    },
  };
}
