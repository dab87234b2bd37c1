// Entry point of a `sigil tsa serve --workers N` worker process (cluster.ts forks it).
import { runTsaWorker } from './cluster.js';

await runTsaWorker();
