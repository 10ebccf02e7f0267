#!/usr/bin/env node
/**
 * The CDK app (`cdk.json` points here): an example stack with Lifeboat's storage.
 * `npx cdk synth` works without AWS credentials and without Docker.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Lifeboat } from '../lib/index.js';

const app = new App();
const stack = new Stack(app, 'LifeboatExample', {
  description: 'Lifeboat: snapshot catalog and bucket for stateful ECS services',
});
new Lifeboat(stack, 'Lifeboat');
app.synth();
