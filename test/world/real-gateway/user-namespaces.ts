// Whether this machine lets an unprivileged process make its own user and network namespace,
// which the real gateway needs to give pod addresses to a loopback device without root.
import { spawnSync } from 'node:child_process';

/** Why this machine cannot make an unprivileged network namespace, or undefined when it can. */
export function namespacesUnavailable(): string | undefined {
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--net', 'true'], { encoding: 'utf8' });
  if (r.error) return `unshare (util-linux) could not run: ${r.error.message}`;
  if (r.status !== 0) {
    return (
      `unshare --user --map-root-user --net failed (${r.stderr.trim() || `exit ${r.status}`}): this machine forbids unprivileged ` +
      'user namespaces (see sysctl kernel.unprivileged_userns_clone or user.max_user_namespaces), which the real gateway needs'
    );
  }
  return undefined;
}
