import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallObserver } from '../server/handlers';
import { toStatus } from '../server/status';
import { status } from '@grpc/grpc-js';
import type { Kind } from '../snapshots/types';

/** Latency buckets in seconds: snapshot calls take well under a millisecond, diffs and applies seconds. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** strata's Prometheus metrics: per-call latency and errors for every service, snapshot counts, layer bytes. */
export class StrataMetrics {
  readonly registry = new Registry();
  private readonly latency = new Histogram({
    name: 'strata_grpc_request_duration_seconds',
    help: 'Latency of gRPC calls by service and method.',
    labelNames: ['service', 'method'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'strata_grpc_errors_total',
    help: 'gRPC calls that failed, by service, method and status code.',
    labelNames: ['service', 'method', 'code'],
    registers: [this.registry],
  });
  readonly layerBytes = new Counter({
    name: 'strata_layer_bytes_total',
    help: 'Uncompressed layer bytes applied or produced by the diff service.',
    labelNames: ['direction'],
    registers: [this.registry],
  });

  constructor(countSnapshots: () => Record<Kind, number>) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'strata_snapshots',
      help: 'Snapshots by kind.',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        for (const [kind, count] of Object.entries(countSnapshots())) this.set({ kind }, count);
      },
    });
  }

  /** A gauge computed at scrape time, e.g. a thin pool's usage. */
  addGauge(
    name: string,
    help: string,
    labelNames: string[],
    read: () => Promise<Array<{ labels: Record<string, string>; value: number }>>,
  ): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        for (const { labels, value } of await read()) this.set(labels, value);
      },
    });
  }

  observe: CallObserver = ({ service, method, seconds, error }) => {
    this.latency.observe({ service, method }, seconds);
    if (error !== undefined) this.errors.inc({ service, method, code: status[toStatus(error).code] });
  };
}

/** Serves the registry at /metrics on host:port; resolves once listening. */
export async function serveMetrics(address: string, registry: Registry): Promise<{ close(): Promise<void> }> {
  const separator = address.lastIndexOf(':');
  const host = address.slice(0, separator).replace(/^\[|\]$/g, '') || undefined;
  const port = Number(address.slice(separator + 1));
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`metrics_address ${address}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  return { close: () => new Promise((resolve) => server.close(() => resolve())) };
}
