// The node flags the image runs sluice with, read from the Dockerfile's ENTRYPOINT: the memory
// benchmark measures what ships, not a copy of it.
import fs from 'node:fs';
import path from 'node:path';
import { parseDockerfile, parseExecForm } from '../test/world/image-tree.js';
import { root } from '../test/world/layout.js';

export function imageNodeFlags(dockerfile = path.join(root, 'Dockerfile')): string[] {
  const stages = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'));
  const last = stages[stages.length - 1];
  const entry = last?.instructions.find((i) => i.op === 'ENTRYPOINT');
  if (!entry) throw new Error(`${dockerfile}: the last stage has no ENTRYPOINT`);
  const argv = parseExecForm(entry.args);
  if (argv[0] !== 'node') throw new Error(`${dockerfile}: the ENTRYPOINT does not start with node (${argv.join(' ')})`);
  return argv.slice(1).filter((a) => a.startsWith('--'));
}
