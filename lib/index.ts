// The construct library's entry point: re-exports only, and never handler code.
export * from './lifeboat.js';
