import assert from 'node:assert/strict';
import test from 'node:test';
import { failoverCommand, isSyncedReplica, masterAddressCommand, parseMasterService, redisCliExecArgs } from './sentinel-nodes.ts';

test('redis-cli runs inside the container with the password from the environment, never in argv', () => {
  assert.deepEqual(redisCliExecArgs('abc123', 26379, masterAddressCommand()), [
    'exec', '-e', 'REDISCLI_AUTH', 'abc123', 'redis-cli', '--no-auth-warning', '-p', '26379', 'SENTINEL', 'get-master-addr-by-name', 'wsk',
  ]);
  assert.deepEqual(failoverCommand(), ['SENTINEL', 'FAILOVER', 'wsk']);
});

test('the master a sentinel names must be a data node of the override file', () => {
  assert.equal(parseMasterService('redis-replica-2\n6379\n'), 'redis-replica-2');
  assert.equal(parseMasterService('redis\r\n6379\r\n'), 'redis');
  assert.throws(() => parseMasterService('172.18.0.3\n6379\n'), /not a data node/);
  assert.throws(() => parseMasterService('redis\n6380\n'), /not a data node/);
  // What redis-cli prints when the sentinels know no such master.
  assert.throws(() => parseMasterService('\n'), /not a data node/);
});

test('a revived node counts as back only as a replica whose link is up', () => {
  assert.equal(isSyncedReplica('# Replication\r\nrole:slave\r\nmaster_host:redis\r\nmaster_link_status:up\r\n'), true);
  assert.equal(isSyncedReplica('# Replication\nrole:slave\nmaster_link_status:down\n'), false);
  // A restarted old master first comes back as a master of nothing.
  assert.equal(isSyncedReplica('# Replication\nrole:master\nconnected_slaves:0\n'), false);
});
