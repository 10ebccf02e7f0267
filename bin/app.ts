#!/usr/bin/env node
/**
 * The CDK app (`cdk.json` points here): the example stack of `example-stack.ts`, checked by
 * cdk-nag during synth. `npx cdk synth` works without AWS credentials and without Docker
 * (esbuild bundles the Lambda functions locally).
 */
import { createExampleApp } from './example-stack.js';

createExampleApp().synth();
