import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peakRate } from '../cases/rolling-update.ts';
import { parseFetchOutput } from '../swarm/swarm-commands.ts';
import { proxyStatesFromCsv, statsUrlWithCredentials } from './haproxy-stats.ts';
import { assertUpExactly } from './proxy-routing.ts';

describe('waiting for HAProxy to route to exactly the replicas', () => {
  const up = (address: string, checked = true) => ({ address, up: true, rawStatus: 'UP', checked });
  it('passes only for exactly the expected set, all with a passed check', () => {
    assert.equal(assertUpExactly([up('10.0.0.2'), up('10.0.0.1')], ['10.0.0.1', '10.0.0.2']), true);
    assert.throws(() => assertUpExactly([up('10.0.0.1')], ['10.0.0.1', '10.0.0.2']), /HAProxy has UP: \[10\.0\.0\.1\], wants \[10\.0\.0\.1, 10\.0\.0\.2\]/);
    assert.throws(() => assertUpExactly([up('10.0.0.1'), up('10.0.0.9')], ['10.0.0.1']), /has UP: \[10\.0\.0\.1, 10\.0\.0\.9\]/, 'a replica that should be gone');
  });
  it('does not count a slot UP only because DNS just gave it an address (no check passed yet)', () => {
    assert.throws(() => assertUpExactly([up('10.0.0.1'), up('10.0.0.2', false)], ['10.0.0.1', '10.0.0.2']), /has UP: \[10\.0\.0\.1\]/);
    // A proxy that reports no check results at all (checked absent) is taken at its word.
    assert.equal(assertUpExactly([{ address: '10.0.0.1', up: true, rawStatus: 'UP' }], ['10.0.0.1']), true);
  });
  it('reads checked from the CSV, a check in progress included', () => {
    const csv = [
      '# pxname,svname,status,addr,cookie,scur,stot,check_status,',
      'replicas,replica1,UP,10.0.0.1:3000,a,0,0,* L7OK,',
      'replicas,replica2,UP,10.0.0.2:3000,b,0,0,L4CON,',
      'replicas,replica3,DOWN,10.0.0.3:3000,c,0,0,L7STS,',
      'other,replica1,UP,10.9.9.9:3000,a,0,0,L7OK,',
    ].join('\n');
    assert.deepEqual(proxyStatesFromCsv(csv), [
      { address: '10.0.0.1', up: true, rawStatus: 'UP', checked: true },
      { address: '10.0.0.2', up: true, rawStatus: 'UP', checked: false },
      { address: '10.0.0.3', up: false, rawStatus: 'DOWN', checked: false },
    ]);
  });
  it('puts the credentials into the stats URL, encoded', () => {
    assert.equal(statsUrlWithCredentials({ baseUrl: 'http://10.0.0.2:8404', user: 'admin', password: 'p@ss' }), 'http://admin:p%40ss@10.0.0.2:8404/stats');
  });
});

describe('in-container GET output', () => {
  it('splits the status line from the body, which may hold newlines', () => {
    assert.deepEqual(parseFetchOutput('200\n# a\n# b\n'), { status: 200, body: '# a\n# b\n' });
    assert.deepEqual(parseFetchOutput('503\n'), { status: 503, body: '' });
    assert.deepEqual(parseFetchOutput('204'), { status: 204, body: '' });
  });
  it('refuses output without a status', () => {
    assert.throws(() => parseFetchOutput(''), /printed no status/);
    assert.throws(() => parseFetchOutput('hello\nworld'), /printed no status/);
    assert.throws(() => parseFetchOutput('42\n'), /printed no status/);
  });
});

describe('peak reconnect rate', () => {
  it('counts the most events inside any one-second window', () => {
    assert.equal(peakRate([]), 0);
    assert.equal(peakRate([5]), 1);
    assert.equal(peakRate([0, 100, 999, 1000, 1500, 1999]), 3, 'windows are under 1 s wide: 999 and 1999 are not in one');
    assert.equal(peakRate([0, 100, 999, 1000, 1500, 1998]), 4, '999, 1000, 1500 and 1998 are');
    assert.equal(peakRate([3000, 0, 2000, 1000]), 1, 'any order; exactly 1 s apart is another window');
  });
});
