/** Types of parse-prometheus-text-format, which ships none. */
/** Parses Prometheus text exposition into metric families. */
export default function parsePrometheusTextFormat(text: string): unknown[];
