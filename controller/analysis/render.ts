// MetricTemplate queries use Flagger's placeholders: {{ name }}, {{ namespace }}, {{ target }},
// {{ service }}, {{ interval }} and {{ variables.<key> }} from the metric's templateVariables.
export interface TemplateContext {
  name: string;
  namespace: string;
  target: string;
  service: string;
  interval: string;
  variables: Record<string, string>;
  /** A CanaryJudge's side: canary, baseline or primary (docs/analysis.md). Only a judge's queries have one. */
  variant?: string;
}

export class TemplateError extends Error {}

export function renderQuery(query: string, ctx: TemplateContext): string {
  return query.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_all, expr: string) => {
    const variable = /^variables\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (variable) {
      const v = ctx.variables[variable[1]!];
      if (v === undefined) throw new TemplateError(`variable "${variable[1]}" is not set; add it to the metric's templateVariables`);
      return v;
    }
    switch (expr) {
      case 'name':
        return ctx.name;
      case 'namespace':
        return ctx.namespace;
      case 'target':
        return ctx.target;
      case 'service':
        return ctx.service;
      case 'interval':
        return ctx.interval;
      case 'variant':
        if (ctx.variant === undefined)
          throw new TemplateError('{{ variant }} is only set for a CanaryJudge metric (canary or baseline); a Canary metric cannot use it');
        return ctx.variant;
      default:
        throw new TemplateError(
          `unknown placeholder {{ ${expr} }}; use name, namespace, target, service, interval, variant (a judge's) or variables.<key>`,
        );
    }
  });
}
