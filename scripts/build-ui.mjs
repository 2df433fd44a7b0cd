// Builds the dashboard's page (dashboard/ui) into dist/dashboard/ui: one minified ES module with
// preact and htm inside (nothing is fetched from a CDN at run time), the page and its styles.
// Run by `make build` after tsc; the page's own types are checked by dashboard/ui/tsconfig.json.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'dashboard/ui');
const out = path.join(root, 'dist/dashboard/ui');
fs.mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(src, 'main.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2022',
  legalComments: 'none',
  logLevel: 'warning',
});
fs.copyFileSync(path.join(src, 'index.html'), path.join(out, 'index.html'));
// uPlot's own styles first, ours after them.
const uplotCss = fs.readFileSync(path.join(root, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8');
fs.writeFileSync(path.join(out, 'app.css'), `${uplotCss}\n${fs.readFileSync(path.join(src, 'app.css'), 'utf8')}`);
