// Loads the TypeScript worker through tsx when flowrecon runs from its sources
// (a worker thread does not inherit the main thread's loader hooks).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
