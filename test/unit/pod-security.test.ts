// Every pod sluice ships or shows (manifests/, examples/) meets the restricted Pod Security level:
// non-root, the runtime's seccomp profile, no privilege escalation, every capability dropped.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { root } from '../world/layout.js';

type Container = {
  name: string;
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
    runAsNonRoot?: boolean;
    seccompProfile?: { type?: string };
  };
};
type PodSpec = {
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type?: string } };
  containers: Container[];
  initContainers?: Container[];
};

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

describe('pod security of shipped manifests and examples', () => {
  const workloads = ['manifests', 'examples']
    .flatMap((d) => yamlFiles(path.join(root, d)))
    .flatMap((file) =>
      YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((doc) => ({
        file: path.relative(root, file),
        obj: doc.toJSON() as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: PodSpec } } } | null,
      })),
    )
    .filter(({ obj }) => obj?.spec?.template?.spec?.containers);

  it('finds the workloads it checks', () => {
    const names = workloads.map(({ obj }) => obj!.metadata?.name);
    for (const expected of ['sluice-webhook', 'sluice-controller', 'podinfo', 'sluice-tester'])
      assert.ok(names.includes(expected), `${expected} among ${names.join(', ')}`);
  });

  it('every pod is at the restricted level', () => {
    for (const { file, obj } of workloads) {
      const pod = obj!.spec!.template!.spec!;
      const where = `${file}: ${obj!.kind} ${obj!.metadata?.name}`;
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const sc = c.securityContext ?? {};
        assert.equal(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, true, `${where}, container ${c.name}: runAsNonRoot`);
        assert.equal(
          sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type,
          'RuntimeDefault',
          `${where}, container ${c.name}: seccompProfile RuntimeDefault`,
        );
        assert.equal(sc.allowPrivilegeEscalation, false, `${where}, container ${c.name}: allowPrivilegeEscalation false`);
        assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${where}, container ${c.name}: capabilities drop ALL`);
      }
    }
  });
});
