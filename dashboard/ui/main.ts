// The dashboard's page: the list of every Canary the person may read, and one Canary's page.
// What it shows comes from one event stream per page; what it may do, from /api/rights (the
// apiserver's answer for this person), and the server asks the apiserver again on every action.

import { Component, html, render } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { RolloutView } from '../../cli/rollout-view.js';
import type { Detail } from '../app.js';
import type { Batch, Snapshot } from '../canary-feed.js';
import type { Rights } from '../person.js';
import { MetricChart, WeightChart } from './chart.js';
import { type LiveState, live } from './live.js';

const keyOf = (v: RolloutView) => `${v.namespace}/${v.name}`;
const api = (p: string) => new URL(p, document.baseURI).toString();

function Live({ state, why }: { state: LiveState; why?: string }) {
  const label = state === 'up' ? 'live' : state === 'connecting' ? 'connecting…' : 'reconnecting…';
  return html`<span class=${`live ${state === 'up' ? 'up' : 'down'}`} data-testid="live" title=${why ?? ''}>${label}</span>`;
}

/** Who the apiserver says you are, asked once per page: the header shows it, and a refusal means signing in. */
interface WhoAmI {
  ok: boolean;
  status: number;
  user?: string;
  error?: string;
  login?: boolean;
  signOut?: boolean;
}
let whoAsked: Promise<WhoAmI> | undefined;
function whoAmI(): Promise<WhoAmI> {
  whoAsked ??= fetch(api('api/whoami'))
    .then(async (r) => {
      const text = await r.text();
      let body: { user?: string; error?: string; login?: boolean; signOut?: boolean } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        body = { error: text };
      }
      return { ok: r.ok, status: r.status, ...body };
    })
    .catch((err: Error) => ({ ok: false, status: 0, error: err.message }));
  return whoAsked;
}

function Header({ state, why }: { state: LiveState; why?: string }) {
  const [who, setWho] = useState<WhoAmI | undefined>(undefined);
  useEffect(() => {
    void whoAmI().then(setWho);
  }, []);
  const signOut = async () => {
    await fetch(api('api/logout'), { method: 'POST' });
    location.reload();
  };
  return html`<header>
    <h1><a href=${api('./')}>sluice</a></h1>
    <${Live} state=${state} why=${why} />
    <span class="who" data-testid="who">${who?.user ?? ''}</span>
    ${who?.signOut ? html`<button data-testid="sign-out" onClick=${signOut}>Sign out</button>` : ''}
  </header>`;
}

function Weight({ v }: { v: RolloutView }) {
  if ('weight' in v.step) {
    const pct = v.step.maxWeight > 0 ? Math.round((100 * v.step.weight) / v.step.maxWeight) : 0;
    return html`<span><span class="bar"><span style=${`width:${pct}%`}></span></span> <span data-testid="weight">${v.step.weight}</span>/${v.step.maxWeight}</span>`;
  }
  return html`<span data-testid="weight">${v.step.iteration}</span>/${v.step.iterations} iterations`;
}

function holds(v: RolloutView): string[] {
  return [
    v.paused && `paused ${v.paused}`,
    v.suspended && 'suspended',
    v.lineStopped && `line stopped ${v.lineStopped}`,
    v.changeWindow && `change window: ${v.changeWindow}`,
  ].filter((x): x is string => typeof x === 'string');
}

function Row({ v }: { v: RolloutView }) {
  return html`<tr data-canary=${keyOf(v)}>
    <td>${v.namespace}</td>
    <td><a href=${api(`canary/${encodeURIComponent(v.namespace)}/${encodeURIComponent(v.name)}`)}>${v.name}</a></td>
    <td>${v.target}</td>
    <td class=${`phase-${v.phase}`} data-testid="phase">${v.phase}</td>
    <td><${Weight} v=${v} /></td>
    <td class=${v.failedChecks > 0 ? 'bad' : ''}>${v.failedChecks}/${v.threshold}</td>
    <td>${holds(v).join('; ')}</td>
  </tr>`;
}

/**
 * A slice of the list as one <tbody>, drawn again only when one of its rows changed: a status
 * change re-renders fifty rows, not a thousand (unchanged views keep their identity).
 */
class Chunk extends Component<{ views: RolloutView[] }> {
  override shouldComponentUpdate(next: { views: RolloutView[] }): boolean {
    const now = this.props.views;
    return next.views.length !== now.length || next.views.some((v, i) => v !== now[i]);
  }
  override render() {
    return html`<tbody>${this.props.views.map((v) => html`<${Row} key=${keyOf(v)} v=${v} />`)}</tbody>`;
  }
}

const CHUNK = 50;

function List() {
  const [rows, setRows] = useState<Map<string, RolloutView> | undefined>(undefined);
  const [state, setState] = useState<{ s: LiveState; why?: string }>({ s: 'connecting' });
  const [filter, setFilter] = useState('');
  // A long list is drawn a chunk per task, so the page keeps answering while it fills.
  const [drawn, setDrawn] = useState(1);
  useEffect(
    () =>
      live({
        url: api('api/stream'),
        state: (s, why) => setState({ s, why }),
        on: {
          snapshot: (d) => setRows(new Map((d as Snapshot).items.map((v) => [keyOf(v), v]))),
          changes: (d) =>
            setRows((old) => {
              const next = new Map(old);
              const b = d as Batch;
              for (const v of b.upserts) next.set(keyOf(v), v);
              for (const k of b.removed) next.delete(k);
              return next;
            }),
        },
      }),
    [],
  );
  const shown = useMemo(() => {
    const all = [...(rows?.values() ?? [])].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    return filter ? all.filter((v) => keyOf(v).includes(filter)) : all;
  }, [rows, filter]);
  const chunks = Math.ceil(shown.length / CHUNK);
  useEffect(() => {
    if (drawn >= chunks) return;
    const t = setTimeout(() => setDrawn((n) => n + 1), 0);
    return () => clearTimeout(t);
  }, [drawn, chunks]);
  return html`<${Header} state=${state.s} why=${state.why} />
    <main>
      <p><input type="search" placeholder="filter by namespace/name" value=${filter} onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} />
        ${rows ? html` <span data-testid="count">${shown.length}</span> of ${rows.size} Canaries` : ''}</p>
      ${
        rows === undefined
          ? html`<p class="empty">Loading the Canaries you may read…</p>`
          : rows.size === 0
            ? html`<p class="empty" data-testid="empty">No Canaries that you may read. A Canary appears here as soon as one is created in a namespace you can see.</p>`
            : html`<table class="list" data-testid="canaries">
                <thead><tr><th>Namespace</th><th>Canary</th><th>Target</th><th>Phase</th><th>Weight</th><th>Failed checks</th><th>Held</th></tr></thead>
                ${Array.from({ length: Math.min(drawn, chunks) }, (_, i) => html`<${Chunk} key=${i} views=${shown.slice(i * CHUNK, (i + 1) * CHUNK)} />`)}
              </table>`
      }
    </main>`;
}

type Verb = 'promote' | 'abort' | 'retry' | 'pause' | 'resume' | 'break-glass';

function Actions({ ns, name, rights }: { ns: string; name: string; rights: Rights | undefined }) {
  const [asking, setAsking] = useState<Verb | undefined>(undefined);
  const [reason, setReason] = useState('');
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  if (!rights?.act && !rights?.breakGlass)
    return html`<p class="dry" data-testid="no-actions">You may look, not act: your RBAC has no create on canaryactions here.</p>`;
  const verbs: Verb[] = [
    ...(rights.act ? (['promote', 'abort', 'retry', 'pause', 'resume'] as Verb[]) : []),
    ...(rights.breakGlass ? (['break-glass'] as Verb[]) : []),
  ];
  const send = async (e: Event) => {
    e.preventDefault();
    const verb = asking!;
    setAsking(undefined);
    const res = await fetch(api(`api/canaries/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/actions`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: verb, ...(reason.trim() ? { reason: reason.trim() } : {}) }),
    });
    const body = (await res.json().catch(() => ({}))) as { error?: string; name?: string; by?: string };
    setOutcome(
      res.ok
        ? { ok: true, text: `${verb} requested as ${body.by || 'you'} (canaryaction/${body.name})` }
        : { ok: false, text: body.error ?? `HTTP ${res.status}` },
    );
    setReason('');
  };
  return html`<div class="actions">
    ${verbs.map((v) => html`<button data-action=${v} onClick=${() => setAsking(v)}>${v}</button>`)}
    ${outcome ? html`<p class=${outcome.ok ? 'ok' : 'problem'} data-testid="outcome">${outcome.text}</p>` : ''}
    ${
      asking
        ? html`<dialog open data-testid="confirm">
            <form onSubmit=${send}>
              <strong>${asking} ${ns}/${name}?</strong>
              <label>Reason (recorded with your name)<br /><input name="reason" value=${reason} required=${asking === 'break-glass'} maxlength="1024" onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)} /></label>
              <span><button type="submit" data-testid="confirm-yes">${asking}</button> <button type="button" onClick=${() => setAsking(undefined)}>Cancel</button></span>
            </form>
          </dialog>`
        : ''
    }
  </div>`;
}

function Checks({ v }: { v: RolloutView }) {
  if (v.checks.length === 0) return html`<p class="empty">No checks yet.</p>`;
  return html`<table data-testid="checks">
    <thead><tr><th>Metric</th><th>Value</th><th>Band</th><th>Result</th></tr></thead>
    <tbody>
      ${v.checks.map(
        (c) => html`<tr data-check=${c.name}>
          <td>${c.name}${c.dryRun ? html` <span class="dry">dry-run</span>` : ''}</td>
          <td>${c.value === undefined ? html`<span class="dry">no data${c.message ? `: ${c.message}` : ''}</span>` : c.value}</td>
          <td>${c.min ?? '−∞'} … ${c.max ?? '∞'}</td>
          <td class=${c.ok ? 'ok' : 'bad'}>${c.ok ? 'pass' : c.dryRun ? 'fail (dry-run)' : 'fail'}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function CanaryPage({ ns, name }: { ns: string; name: string }) {
  const [detail, setDetail] = useState<Detail | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [state, setState] = useState<{ s: LiveState; why?: string }>({ s: 'connecting' });
  const [rights, setRights] = useState<Rights | undefined>(undefined);
  useEffect(
    () =>
      live({
        url: api(`api/canaries/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/stream`),
        state: (s, why) => setState({ s, why }),
        on: {
          detail: (d) => {
            setDetail(d as Detail);
            setProblem(undefined);
          },
          gone: (d) => setProblem((d as { gone: string }).gone),
          problem: (d) => setProblem((d as { error: string }).error),
        },
      }),
    [ns, name],
  );
  useEffect(() => {
    fetch(api(`api/rights?namespace=${encodeURIComponent(ns)}`))
      .then((r) => (r.ok ? (r.json() as Promise<Rights>) : { act: false, breakGlass: false }))
      .then(setRights)
      .catch(() => setRights({ act: false, breakGlass: false }));
  }, [ns]);
  const v = detail?.view;
  return html`<${Header} state=${state.s} why=${state.why} />
    <main>
      <h2>Canary ${ns}/${name}</h2>
      ${problem ? html`<p class="problem" data-testid="problem">${problem}</p>` : ''}
      ${
        v
          ? html`
        <section>
          <p>Phase <strong class=${`phase-${v.phase}`} data-testid="phase">${v.phase}</strong> · target ${v.target} · ${v.strategy}</p>
          <p>Weight <${Weight} v=${v} />
            ${v.route ? html` · route: primary <span data-testid="route-primary">${v.route.primary}</span>, canary <span data-testid="route-canary">${v.route.canary}</span>${v.route.baseline !== undefined ? `, baseline ${v.route.baseline}` : ''}` : ''}</p>
          <p>Failed checks <span class=${v.failedChecks > 0 ? 'bad' : ''} data-testid="failed">${v.failedChecks}</span>/${v.threshold}
            · pods: primary ${v.pods.primary.ready}/${v.pods.primary.desired}, canary ${v.pods.canary.ready}/${v.pods.canary.desired}</p>
          <p>Stable ${v.stable ? html`<code>${v.stable.id}</code> ${v.stable.images.join(', ')}` : '—'}
            · candidate ${v.candidate ? html`<code>${v.candidate.id}</code> ${v.candidate.images.join(', ')}` : '—'}</p>
          ${[...holds(v), ...v.gates, ...(v.breakGlass ? [`glass broken ${v.breakGlass}`] : []), ...(v.fastRollback ? [`fast rollback ${v.fastRollback}`] : [])].map((h) => html`<p class="note">${h}</p>`)}
        </section>
        ${detail.why ? html`<section><h2>Why</h2><pre class="why" data-testid="why">${detail.why}</pre></section>` : ''}
        <section><h2>Actions</h2><${Actions} ns=${ns} name=${name} rights=${rights} /></section>
        ${
          detail.hooks.length > 0
            ? html`<section><h2>Hooks and gates</h2><p data-testid="hooks">${detail.hooks.map((h) => html`<code>${h.name}</code> (${h.type}) `)}</p></section>`
            : ''
        }
        <section><h2>Checks</h2><${Checks} v=${v} /></section>
        ${
          detail.history
            ? html`<section><h2>Metrics, last ${Math.round((detail.history.to - detail.history.from) / 60)} minutes</h2>
                ${detail.history.problem ? html`<p class="problem">${detail.history.problem}</p>` : ''}
                ${detail.history.weight.length > 0 ? html`<${WeightChart} points=${detail.history.weight} />` : ''}
                ${detail.history.series.map(
                  (s) => html`<${MetricChart} key=${s.metric} series=${s} message=${v.checks.find((c) => c.name === s.metric)?.message} />`,
                )}
              </section>`
            : ''
        }
        <section><h2>What the candidate changes</h2>
          ${
            detail.diff.length === 0
              ? html`<p class="empty">${v.candidate ? 'No difference in the pod template.' : 'Nothing under test.'}</p>`
              : html`<table data-testid="diff"><thead><tr><th>Field</th><th>Stable</th><th>Candidate</th></tr></thead><tbody>
                  ${detail.diff.map((c) => html`<tr data-path=${c.path}><td><code>${c.path}</code></td><td><code>${c.stable ?? '—'}</code></td><td><code>${c.candidate ?? '—'}</code></td></tr>`)}
                </tbody></table>`
          }
        </section>
        <section><h2>Conditions</h2>
          <table><tbody>${v.conditions.map((c) => html`<tr><td>${c.type}</td><td>${c.status}</td><td>${c.reason ?? ''}</td><td>${c.message ?? ''}</td></tr>`)}</tbody></table>
        </section>
        <section><h2>Events</h2>
          <table data-testid="events"><tbody>${[...v.events].reverse().map((e) => html`<tr><td>${e.time}</td><td class=${e.type === 'Warning' ? 'bad' : ''}>${e.reason ?? e.type}</td><td>${e.message}</td></tr>`)}</tbody></table>
        </section>
        <section><h2>Actions taken</h2>
          ${
            detail.actions.length === 0
              ? html`<p class="empty">None.</p>`
              : html`<table data-testid="history"><tbody>${detail.actions.map((a) => html`<tr><td>${a.at}</td><td>${a.action}</td><td>${a.by}</td><td>${a.reason}</td><td>${a.result}</td><td>${a.message}</td></tr>`)}</tbody></table>`
          }
        </section>`
          : problem
            ? ''
            : html`<p class="empty">Loading…</p>`
      }
    </main>`;
}

/** In the cluster, without a proxy that signs people in: a token the apiserver accepts, pasted once. */
function SignIn({ why }: { why: string }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState('');
  const send = async (e: Event) => {
    e.preventDefault();
    const r = await fetch(api('api/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    if (r.ok) location.reload();
    else setProblem(((await r.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${r.status}`);
  };
  return html`<main>
    <h2>Sign in to the sluice dashboard</h2>
    <p>${why}</p>
    <form onSubmit=${send}>
      <p><label>Bearer token (a ServiceAccount token from <code>kubectl create token</code>, or your OIDC id_token)<br />
        <input type="password" name="token" autocomplete="off" value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} style="width:40rem" /></label></p>
      <p><button type="submit" data-testid="sign-in">Sign in</button></p>
      ${problem ? html`<p class="problem" data-testid="problem">${problem}</p>` : ''}
    </form>
  </main>`;
}

function App() {
  // The page starts at once; only a refusal of who-am-I (no session, a rejected token) replaces it.
  const [refused, setRefused] = useState<WhoAmI | undefined>(undefined);
  useEffect(() => {
    void whoAmI().then((w) => {
      if (!w.ok) setRefused(w);
    });
  }, []);
  if (refused)
    return refused.login
      ? html`<${SignIn} why=${refused.error ?? ''} />`
      : html`<main><p class="problem" data-testid="problem">${refused.error ?? `HTTP ${refused.status}`}</p></main>`;
  const path = location.pathname.slice(new URL(document.baseURI).pathname.length);
  const m = /^canary\/([^/]+)\/([^/]+)$/.exec(path);
  return m ? html`<${CanaryPage} ns=${decodeURIComponent(m[1]!)} name=${decodeURIComponent(m[2]!)} />` : html`<${List} />`;
}

const root = document.getElementById('app')!;
// The static "Loading…" goes: preact renders beside what it did not render itself.
root.replaceChildren();
render(html`<${App} />`, root);
