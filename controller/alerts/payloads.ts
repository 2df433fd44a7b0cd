// What each AlertProvider type receives for one alert. Pure: the shapes are the providers'
// incoming-webhook formats (Slack and its compatibles, Microsoft Teams, Google Chat) and, for
// `generic`, Flagger's event payload.
import type { Canary } from '../../api/flagger-types.js';

export type Severity = 'info' | 'warn' | 'error';
export type ProviderType = 'slack' | 'msteams' | 'discord' | 'rocket' | 'gchat' | 'generic';

export interface Alert {
  canary: Canary;
  message: string;
  severity: Severity;
  /** When it happened (ms since the epoch). */
  at: number;
}

export interface ProviderSettings {
  type: ProviderType;
  channel?: string;
  username?: string;
}

const SLACK_COLOR: Record<Severity, string> = { info: 'good', warn: 'warning', error: 'danger' };
const HEX_COLOR: Record<Severity, string> = { info: '2EB67D', warn: 'ECB22E', error: 'E01E5A' };

function facts(a: Alert): [string, string][] {
  const c = a.canary;
  const st = c.status ?? {};
  return [
    ['Target', `${c.spec.targetRef.kind ?? 'Deployment'}/${c.spec.targetRef.name}.${c.metadata.namespace}`],
    ['Phase', st.phase ?? 'Initializing'],
    ['Revision', st.lastAppliedSpec ? st.lastAppliedSpec.slice(0, 10) : 'unknown'],
    ['Traffic weight', `${st.canaryWeight ?? 0}%`],
    ['Failed checks', String(st.failedChecks ?? 0)],
  ];
}

const title = (a: Alert) => `${a.canary.metadata.name}.${a.canary.metadata.namespace}`;

export function payload(p: ProviderSettings, a: Alert): unknown {
  switch (p.type) {
    case 'slack':
    case 'discord':
    case 'rocket':
      // Discord (through its /slack endpoint) and Rocket.Chat accept Slack's attachments.
      return {
        ...(p.channel ? { channel: p.channel } : {}),
        username: p.username ?? 'sluice',
        attachments: [
          {
            color: SLACK_COLOR[a.severity],
            author_name: title(a),
            text: a.message,
            mrkdwn_in: ['text'],
            fields: facts(a).map(([t, v]) => ({ title: t, value: v, short: true })),
            ts: Math.floor(a.at / 1000),
          },
        ],
      };
    case 'msteams':
      return {
        '@type': 'MessageCard',
        '@context': 'https://schema.org/extensions',
        themeColor: HEX_COLOR[a.severity],
        summary: `${title(a)}: ${a.message}`,
        sections: [{ activityTitle: a.message, activitySubtitle: title(a), facts: facts(a).map(([name, value]) => ({ name, value })) }],
      };
    case 'gchat':
      return {
        cards: [
          {
            header: { title: title(a), subtitle: a.severity },
            sections: [
              {
                widgets: [
                  { textParagraph: { text: a.message } },
                  ...facts(a).map(([topLabel, content]) => ({ keyValue: { topLabel, content } })),
                ],
              },
            ],
          },
        ],
      };
    case 'generic':
      return {
        name: a.canary.metadata.name,
        namespace: a.canary.metadata.namespace,
        phase: a.canary.status?.phase ?? '',
        checksum: a.canary.status?.lastAppliedSpec ?? '',
        metadata: {
          eventMessage: a.message,
          eventType: a.severity === 'info' ? 'Normal' : 'Warning',
          severity: a.severity,
          timestamp: String(a.at),
        },
      };
  }
}

/** Discord's Slack-compatible endpoint is the webhook URL with /slack appended. */
export function deliveryUrl(p: ProviderSettings, address: string): string {
  return p.type === 'discord' && !/\/slack\/?$/.test(address) ? `${address.replace(/\/$/, '')}/slack` : address;
}

/** info receives everything, warn receives warn and error, error only error. */
export function wants(subscribed: Severity | undefined, severity: Severity): boolean {
  const rank: Record<Severity, number> = { info: 0, warn: 1, error: 2 };
  return rank[severity] >= rank[subscribed ?? 'info'];
}

/**
 * Which events become alerts, and how severe: a new revision, a wait for approval and a
 * release are info; a halted step is warn; a rollback is error. Progress chatter is not alerted.
 */
export function severityOf(ev: { type: 'Normal' | 'Warning'; message: string }): Severity | undefined {
  const m = ev.message;
  if (/^(Rolling back|Canary failed!)/.test(m)) return 'error';
  if (/^Halt .* waiting for (approval|promotion approval|traffic increase approval)/.test(m)) return 'info';
  if (/^Halt /.test(m)) return 'warn';
  if (/^(New revision detected!|Promotion completed!|Starting canary analysis)/.test(m)) return 'info';
  return undefined;
}
