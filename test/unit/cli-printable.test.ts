// Text others wrote (Events, reasons, user names) reaches an operator's terminal shown, not obeyed.
import assert from 'node:assert/strict';
import { printable, printableDeep } from '../../cli/printable.js';

describe('kubectl sluice: text from the cluster is shown, never obeyed by the terminal', () => {
  const cases: [string, string, string][] = [
    ['a window-title sequence', 'ok\u001b]0;pwned\u0007', 'ok\\x1b]0;pwned\\x07'],
    ['clear screen and cursor home', '\u001b[2J\u001b[Hfake: Promotion completed!', '\\x1b[2J\\x1b[Hfake: Promotion completed!'],
    ['a carriage return that would overwrite the line', 'Rolling back\rall fine   ', 'Rolling back\\x0dall fine   '],
    ['a newline forging another line', 'reason\nAdvance podinfo.test canary weight 50', 'reason\\x0aAdvance podinfo.test canary weight 50'],
    ['a C1 control (8-bit CSI)', 'a\u009b2Jb', 'a\\x9b2Jb'],
    ['a right-to-left override', 'abort\u202eetomorp', 'abort\\u{202e}etomorp'],
    ['plain text, accents and emoji untouched', 'Déploiement réussi ✅', 'Déploiement réussi ✅'],
  ];
  for (const [what, input, shown] of cases) it(`escapes ${what}`, () => assert.equal(printable(input), shown));

  it('escapes every string of a view, however deep, and leaves the rest as it is', () => {
    const view = { name: 'podinfo', weight: 10, events: [{ message: 'x\u001b[31m', time: 3 }], gates: ['g\u0007'], ok: true, none: null };
    const out = printableDeep(view);
    assert.deepEqual(out, {
      name: 'podinfo',
      weight: 10,
      events: [{ message: 'x\\x1b[31m', time: 3 }],
      gates: ['g\\x07'],
      ok: true,
      none: null,
    });
    assert.equal(view.events[0]!.message, 'x\u001b[31m', 'the original is not changed');
  });
});
