// Flagger's builtin checks for a Gateway API gateway, computed from the gateway's (Envoy's)
// metrics for the canary Service. docs/controller.md ("Analysis") writes them out.
export const BUILTIN_QUERIES: Record<string, string> = {
  // Percentage of non-5xx answers the gateway got from the canary Service.
  'request-success-rate': `sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+",envoy_response_code!~"5.*"}[{{ interval }}])) / sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"}[{{ interval }}])) * 100`,
  // 99th percentile of upstream time to the canary Service, in milliseconds.
  'request-duration': `histogram_quantile(0.99, sum(rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"}[{{ interval }}])) by (le))`,
};
