import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATES } from '../lifecycle/states.ts';
import { decideBoot } from './decide.ts';

test('boot decision: disk for installed and later, rescue OS for rescue, discovery before; writes only to install or wipe', () => {
  const expected: Record<string, string> = {
    discovered: 'discovery/discovery/ro', inventoried: 'discovery/discovery/ro', approved: 'discovery/install/rw',
    installing: 'discovery/install/rw', installed: 'local-disk', joining: 'local-disk', enrolled: 'local-disk', ready: 'local-disk',
    headless: 'local-disk', failed: 'discovery/discovery/ro', wiping: 'discovery/wipe/rw', rescue: 'rescue',
  };
  for (const state of STATES) {
    const d = decideBoot({ state });
    const got = d.kind === 'discovery' ? `discovery/${d.mode}/${d.allowWrite ? 'rw' : 'ro'}` : d.kind;
    assert.equal(got, expected[state], state);
  }
});
