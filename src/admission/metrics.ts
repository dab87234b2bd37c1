import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { VerificationCache } from './cache.js';

/** Prometheus metrics of one admission server (own registry, so several servers can share a process). */
export class AdmissionMetrics {
  readonly registry = new Registry();
  readonly decisions: Counter<'endpoint' | 'outcome'>;
  readonly latency: Histogram<'endpoint'>;

  constructor(cache: VerificationCache<unknown>) {
    this.decisions = new Counter({
      name: 'sigil_admission_decisions_total',
      help: 'Admission decisions by endpoint and outcome (allowed, denied, warned, skipped, malformed).',
      labelNames: ['endpoint', 'outcome'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'sigil_admission_review_duration_seconds',
      help: 'Time to answer one AdmissionReview.',
      labelNames: ['endpoint'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    const stats = cache.stats;
    new Gauge({
      name: 'sigil_admission_cache_entries',
      help: 'Verification cache entries.',
      registers: [this.registry],
      collect() {
        this.set(stats.size);
      },
    });
    new Gauge({
      name: 'sigil_admission_cache_lookups',
      help: 'Verification cache lookups by result (hit, miss, coalesced), since start.',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        this.set({ result: 'hit' }, stats.hits);
        this.set({ result: 'miss' }, stats.misses);
        this.set({ result: 'coalesced' }, stats.coalesced);
      },
    });
  }
}
