// The Dockerfile reader behind the image-tree test, and the pod network's routing decision.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImageTree, parseCopy, parseDockerfile } from '../world/image-tree.js';
import { root } from '../world/layout.js';
import { chooseRoute, type PodNetworkRule, routeFor } from '../world/pod-network.js';

describe('image tree: reading a Dockerfile', () => {
  it('splits stages, joins continuation lines and drops comments', () => {
    const stages = parseDockerfile(
      [
        '# c',
        'FROM a:1 AS build',
        'RUN one \\',
        '  # inside',
        '  && two',
        'COPY x y',
        '',
        'FROM b:2',
        'COPY --from=build /src/dist dist',
      ].join('\n'),
    );
    assert.equal(stages.length, 2);
    assert.equal(stages[0]!.name, 'build');
    assert.deepEqual(stages[0]!.instructions[0], { op: 'RUN', args: 'one && two' });
    assert.deepEqual(parseCopy(stages[1]!.instructions[0]!.args), { from: 'build', sources: ['/src/dist'], dest: 'dist' });
  });

  it('refuses an instruction it does not emulate rather than skip it', () => {
    assert.throws(() => parseDockerfile('FROM a\nADD x y\n'), /ADD is not understood/);
    assert.throws(() => parseCopy('--chown=1:1 a b'), /--chown=1:1 is not understood/);
  });

  it('the repository Dockerfile parses: a build stage and a final stage with an exec-form entry point', () => {
    const stages = parseDockerfile(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
    assert.ok(stages.length >= 2);
    const final = stages.at(-1)!;
    assert.ok(final.instructions.some((i) => i.op === 'ENTRYPOINT' && JSON.parse(i.args).includes('/app/dist/bin/sluice.js')));
    assert.ok(!final.instructions.some((i) => i.op === 'RUN' && /npm (ci|install)/.test(i.args)), 'no npm in the final stage');
  });

  it('builds a tree from COPY and RUN, copying directory contents and leaving out what is not copied', () => {
    const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'ctx-'));
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'scratch-'));
    try {
      fs.mkdirSync(path.join(ctx, 'src'));
      fs.writeFileSync(path.join(ctx, 'src/a.txt'), 'A');
      fs.writeFileSync(path.join(ctx, 'secret.txt'), 'S');
      fs.writeFileSync(
        path.join(ctx, 'Dockerfile'),
        [
          'FROM x AS build',
          'WORKDIR /w',
          'COPY src src',
          'RUN cat src/a.txt src/a.txt > out.txt',
          'FROM y',
          'WORKDIR /app',
          'COPY --from=build /w/out.txt ./',
          'ENTRYPOINT ["node", "/app/out.txt"]',
        ].join('\n'),
      );
      const tree = buildImageTree(path.join(ctx, 'Dockerfile'), ctx, scratch);
      assert.equal(fs.readFileSync(path.join(tree.workdir, 'out.txt'), 'utf8'), 'AA');
      assert.deepEqual(fs.readdirSync(tree.workdir), ['out.txt']);
      assert.equal(tree.entrypoint[0], process.execPath);
      assert.equal(tree.entrypoint[1], path.join(tree.root, 'app/out.txt'));
    } finally {
      fs.rmSync(ctx, { recursive: true, force: true });
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('pod network: where a connection to a pod address goes', () => {
  const rules: PodNetworkRule[] = [
    { namespace: 'sluice-system', matchLabels: { 'app.kubernetes.io/name': 'sluice' }, port: 8443, to: '127.0.0.1:28443' },
  ];
  const pod = { namespace: 'sluice-system', name: 'sluice-abc', labels: { 'app.kubernetes.io/name': 'sluice', 'pod-template-hash': 'x' } };
  it('routes a selected pod port to its local process', () => assert.deepEqual(routeFor(rules, pod, 8443), { to: '127.0.0.1:28443' }));
  it('refuses an unknown address, another port, another namespace or other labels', () => {
    assert.ok('refused' in routeFor(rules, undefined, 8443));
    assert.ok('refused' in routeFor(rules, pod, 8081));
    assert.ok('refused' in routeFor(rules, { ...pod, namespace: 'other' }, 8443));
    assert.ok('refused' in routeFor(rules, { ...pod, labels: { app: 'sluice' } }, 8443));
  });
  it('takes the most specific rule: one naming the pod, then the one matching more labels', () => {
    const webhookPod = { ...pod, labels: { ...pod.labels, 'app.kubernetes.io/component': 'webhook' } };
    const more: PodNetworkRule[] = [
      ...rules,
      {
        namespace: 'sluice-system',
        matchLabels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/component': 'webhook' },
        port: 8443,
        to: '127.0.0.1:28445',
      },
    ];
    assert.deepEqual(routeFor(more, webhookPod, 8443), { to: '127.0.0.1:28445' });
    assert.deepEqual(routeFor([...more, { ...rules[0]!, pod: 'sluice-abc', to: '127.0.0.1:28446' }], webhookPod, 8443), {
      to: '127.0.0.1:28446',
    });
  });
  it('an address two pods claim (kwok reuses addresses at once) goes to the pod serving the port', () => {
    const controllerPod = { namespace: 'sluice-system', name: 'sluice-controller-x', labels: { app: 'controller' } };
    assert.deepEqual(chooseRoute(rules, [controllerPod, pod], 8443), { pod, route: { to: '127.0.0.1:28443' } });
    const refused = chooseRoute(rules, [controllerPod], 8443);
    assert.equal(refused.pod, controllerPod);
    assert.ok('refused' in refused.route);
    assert.ok('refused' in chooseRoute(rules, [], 8443).route);
  });
  it('never forwards off loopback, whatever a rule says', () => {
    assert.ok('refused' in routeFor([{ ...rules[0]!, to: '10.0.0.5:8443' }], pod, 8443));
    assert.ok('refused' in routeFor([{ ...rules[0]!, to: 'example.com:443' }], pod, 8443));
  });
});
