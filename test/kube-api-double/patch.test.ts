// JSON Patch, merge patch and strategic merge patch as the API server applies them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch, applyMergePatch, applyPatch, strategicMerge } from './patch.ts';
import { ApiError } from './status.ts';

const node = {
  metadata: { name: 'n1', labels: { a: '1', b: '2' }, finalizers: ['x'] },
  status: {
    conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'False', reason: 'KubeletNotReady' }],
    addresses: [{ type: 'InternalIP', address: '10.0.0.5' }],
  },
};

test('JSON patch (RFC 6902): add, replace, remove, test, escaped paths, errors are 422', () => {
  const out = applyJsonPatch(node, [
    { op: 'add', path: '/metadata/labels/node-role.kubernetes.io~1worker', value: '' },
    { op: 'replace', path: '/metadata/labels/a', value: 'x' },
    { op: 'remove', path: '/metadata/labels/b' },
    { op: 'test', path: '/metadata/name', value: 'n1' },
    { op: 'add', path: '/metadata/finalizers/-', value: 'y' },
  ]);
  assert.deepEqual(out.metadata.labels, { a: 'x', 'node-role.kubernetes.io/worker': '' });
  assert.deepEqual(out.metadata.finalizers, ['x', 'y']);
  assert.equal(node.metadata.labels.b, '2', 'the target is not modified');
  for (const ops of [[{ op: 'test', path: '/metadata/name', value: 'n2' }], [{ op: 'replace', path: '/metadata/nope/x', value: 1 }], [{ op: 'remove', path: '/metadata/labels/zz' }]]) {
    assert.throws(() => applyJsonPatch(node, ops), (e: unknown) => e instanceof ApiError && e.status.code === 422);
  }
});

test('merge patch (RFC 7386): null deletes, lists replace', () => {
  const out = applyMergePatch(node, { metadata: { labels: { a: null, c: '3' } }, status: { addresses: [] } });
  assert.deepEqual(out.metadata.labels, { b: '2', c: '3' });
  assert.deepEqual(out.status.addresses, []);
  assert.deepEqual(out.status.conditions, node.status.conditions);
});

test('strategic merge: conditions merge by type, directives, finalizers as a set', () => {
  const out = strategicMerge(node, {
    metadata: { finalizers: ['x', 'z'] },
    status: {
      '$setElementOrder/conditions': [{ type: 'MemoryPressure' }, { type: 'Ready' }, { type: 'PIDPressure' }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }, { type: 'PIDPressure', status: 'False' }],
    },
  });
  assert.deepEqual(out.status.conditions, [
    { type: 'MemoryPressure', status: 'False' },
    { type: 'Ready', status: 'True', reason: 'KubeletReady' },
    { type: 'PIDPressure', status: 'False' },
  ]);
  assert.deepEqual(out.metadata.finalizers, ['x', 'z']);
  assert.ok(!('$setElementOrder/conditions' in out.status));
  const del = strategicMerge(node, { status: { conditions: [{ type: 'Ready', $patch: 'delete' }] } });
  assert.deepEqual(del.status.conditions.map((c: any) => c.type), ['MemoryPressure']);
  const rep = strategicMerge(node, { metadata: { labels: { $patch: 'replace', z: '9' } } });
  assert.deepEqual(rep.metadata.labels, { z: '9' });
});

test('patch types: custom resources have no strategic merge, unknown types are 415', () => {
  assert.throws(() => applyPatch('application/strategic-merge-patch+json', {}, {}, true),
    (e: unknown) => e instanceof ApiError && e.status.code === 415 && !e.status.message!.includes('strategic'));
  assert.throws(() => applyPatch('application/apply-patch+yaml', {}, {}, false), (e: unknown) => e instanceof ApiError && e.status.code === 415);
  assert.deepEqual(applyPatch('application/merge-patch+json', { a: 1 }, { b: 2 }, true), { a: 1, b: 2 });
});
