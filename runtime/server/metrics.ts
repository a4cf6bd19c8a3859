/**
 * Prometheus metrics for GET /metrics (prom-client), in a registry of their own so that two servers
 * in one process (tests) do not share counters. Names follow Prometheus' conventions: seconds,
 * `_total` counters, the model as a label (only served models' names, so a client cannot grow the
 * label set by asking for made-up ones).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatcherEvents } from './batcher.js';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'vggc_requests_total', help: 'HTTP requests answered, by model, endpoint and status code', labelNames: ['model', 'endpoint', 'status'], registers: [this.registry] });
  private readonly latency = new Histogram({
    name: 'vggc_request_duration_seconds',
    help: 'Time from receiving a request to answering it, by model and endpoint',
    labelNames: ['model', 'endpoint'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({ name: 'vggc_batch_size', help: 'Images per batch run by the model', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [this.registry] });
  private readonly inference = new Histogram({
    name: 'vggc_inference_duration_seconds',
    help: 'Time one batch took in the model (worker round trip included)',
    labelNames: ['model'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'vggc_queue_wait_seconds',
    help: 'Time a request waited in the queue before its batch started',
    labelNames: ['model'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  private readonly queueDepth = new Gauge({ name: 'vggc_queue_depth', help: 'Requests waiting for a batch, by model', labelNames: ['model'], registers: [this.registry] });
  private readonly inFlight = new Gauge({ name: 'vggc_requests_in_flight', help: 'Requests received and not yet answered', registers: [this.registry] });

  constructor(models: readonly string[]) {
    // Process metrics (resident memory, event-loop lag, GC): what a soak or an alert looks at.
    collectDefaultMetrics({ register: this.registry, prefix: 'vggc_' });
    for (const model of models) this.queueDepth.set({ model }, 0);
  }

  started(): void {
    this.inFlight.inc();
  }

  answered(model: string, endpoint: string, status: number, seconds: number): void {
    this.inFlight.dec();
    this.requests.inc({ model, endpoint, status: String(status) });
    this.latency.observe({ model, endpoint }, seconds);
  }

  forModel(model: string): BatcherEvents {
    return {
      queueDepth: (depth) => this.queueDepth.set({ model }, depth),
      batch: (images, seconds) => {
        this.batchSize.observe({ model }, images);
        this.inference.observe({ model }, seconds);
      },
      waited: (seconds) => this.queueWait.observe({ model }, seconds),
    };
  }
}
