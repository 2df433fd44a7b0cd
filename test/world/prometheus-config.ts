// Prometheus scrapes every second so that analysis intervals of a few seconds see fresh data.
import YAML from 'yaml';
import { ports } from './layout.js';

export function prometheusConfig(): string {
  const job = (name: string, port: number) => ({ job_name: name, static_configs: [{ targets: [`127.0.0.1:${port}`] }] });
  return YAML.stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    scrape_configs: [
      job('simulator', ports.simulator),
      job('sluice-webhook', ports.webhookMetrics),
      job('sluice-controller', ports.controllerMetrics),
      // The real gateway (Traefik) when a test has started it; down otherwise, which nothing reads.
      job('traefik', ports.realGatewayMetrics),
    ],
  });
}
