// GET /metrics (design §3): Prometheus text format, per instance. Counted in process, cheaply, on the hot path.

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly spend = new Map<string, number>();
  private latencyCount = 0;
  private latencySumMs = 0;

  request(vendor: string, decision: string, code: string | null, latencyMs: number): void {
    const k = `${vendor}\u0000${decision}\u0000${code ?? ''}`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
    this.latencyCount++;
    this.latencySumMs += latencyMs;
  }

  spent(vendor: string, micros: number): void {
    if (micros > 0) this.spend.set(vendor, (this.spend.get(vendor) ?? 0) + micros);
  }

  render(gauges: Record<string, number>): string {
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const lines = [
      '# HELP keybrake_requests_total Proxied requests, by vendor, decision and code.',
      '# TYPE keybrake_requests_total counter',
      ...[...this.requests].map(([k, n]) => {
        const [vendor, decision, code] = k.split('\u0000') as [string, string, string];
        return `keybrake_requests_total{vendor="${esc(vendor)}",decision="${esc(decision)}",code="${esc(code)}"} ${n}`;
      }),
      '# HELP keybrake_spend_usd_total Spend settled through this instance, in US dollars.',
      '# TYPE keybrake_spend_usd_total counter',
      ...[...this.spend].map(([vendor, micros]) => `keybrake_spend_usd_total{vendor="${esc(vendor)}"} ${micros / 1e6}`),
      '# HELP keybrake_request_duration_ms Time from request to response, in milliseconds.',
      '# TYPE keybrake_request_duration_ms summary',
      `keybrake_request_duration_ms_count ${this.latencyCount}`,
      `keybrake_request_duration_ms_sum ${this.latencySumMs}`,
      ...Object.entries(gauges).flatMap(([name, value]) => [`# TYPE ${name} gauge`, `${name} ${value}`]),
    ];
    return lines.join('\n') + '\n';
  }
}
