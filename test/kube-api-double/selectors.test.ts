// Label and field selector semantics, from apimachinery's own tables of cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { ApiError } from './status.ts';

const labels = { app: 'web', tier: 'front', 'topology.kubernetes.io/zone': 'a' };
const m = (sel: string, l: Record<string, string> = labels) => matchLabels(parseLabelSelector(sel), l);

test('label selectors: equality, inequality, existence, sets', () => {
  const cases: Array<[string, boolean]> = [
    ['', true], ['app=web', true], ['app==web', true], ['app=db', false],
    ['app!=db', true], ['missing!=x', true], ['app', true], ['!app', false], ['!missing', true],
    ['app in (web,db)', true], ['app in (db)', false], ['app notin (db)', true], ['missing notin (x)', true], ['missing in (x)', false],
    ['app=web,tier=front', true], ['app=web,tier=back', false], ['topology.kubernetes.io/zone in (a, b)', true],
  ];
  for (const [sel, want] of cases) assert.equal(m(sel), want, sel);
  assert.equal(matchLabels(parseLabelSelector('app'), undefined), false, 'no labels at all');
  assert.equal(m('n>3', { n: '5' }), true);
  assert.equal(m('n<3', { n: '5' }), false);
});

test('label selectors: malformed ones are 400 BadRequest', () => {
  assert.equal(m('app=', { app: '' }), true, 'an empty value is a valid value');
  for (const bad of ['a b c', 'app in web', '=x', 'app=w=b', 'n>x']) {
    assert.throws(() => parseLabelSelector(bad), (e: unknown) => e instanceof ApiError && e.status.code === 400, bad);
  }
});

test('field selectors: only declared fields, = and !=, escaped values', () => {
  const fields = { 'metadata.name': 'n1', 'spec.nodeName': '', type: 'a,b' };
  const supported = Object.keys(fields);
  const f = (sel: string) => matchFields(parseFieldSelector(sel, supported), fields);
  assert.equal(f('metadata.name=n1'), true);
  assert.equal(f('metadata.name==n1'), true);
  assert.equal(f('metadata.name!=n1'), false);
  assert.equal(f('spec.nodeName=n1'), false, 'a Pending pod without nodeName is not on n1');
  assert.equal(f('spec.nodeName='), true);
  assert.equal(f('type=a\\,b'), true);
  assert.throws(() => parseFieldSelector('spec.foo=x', supported),
    (e: unknown) => e instanceof ApiError && e.status.code === 400 && e.status.message === 'field label not supported: spec.foo');
});
