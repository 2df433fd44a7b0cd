// Prometheus scrapes the traffic (the simulator, the real gateway) every second, so that analysis
// intervals of a few seconds see fresh data. sluice's own series are read by no analysis and no
// test through Prometheus: they are scraped every 10 s, as a cluster's Prometheus does (its own
// default is a minute). Scraped every second, sending the Flagger series of 1,000 Canaries was
// most of the controller's idle CPU (docs/scale.md).
import YAML from 'yaml';
import { ports } from './layout.js';

/** How often sluice's own metrics are scraped in the world. */
export const SLUICE_SCRAPE_INTERVAL = '10s';

export function prometheusConfig(): string {
  const job = (name: string, port: number, interval?: string) => ({
    job_name: name,
    ...(interval ? { scrape_interval: interval, scrape_timeout: '5s' } : {}),
    static_configs: [{ targets: [`127.0.0.1:${port}`] }],
  });
  return YAML.stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    scrape_configs: [
      job('simulator', ports.simulator),
      job('sluice-webhook', ports.webhookMetrics, SLUICE_SCRAPE_INTERVAL),
      job('sluice-controller', ports.controllerMetrics, SLUICE_SCRAPE_INTERVAL),
      // The real gateway (Traefik) when a test has started it; down otherwise, which nothing reads.
      job('traefik', ports.realGatewayMetrics),
    ],
  });
}
