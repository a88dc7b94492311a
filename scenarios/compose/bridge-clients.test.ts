import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bridgeAddressPlan, ipBatch, parseBridgeNetwork } from './bridge-clients.ts';

describe('client addresses on a Compose bridge', () => {
  it('finds the bridge device and IPv4 subnet, an explicit bridge name first', () => {
    const id = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const inspect = (options: object) =>
      JSON.stringify([{ Id: id, IPAM: { Config: [{ Subnet: 'fd00::/64' }, { Subnet: '172.26.0.0/16', Gateway: '172.26.0.1' }] }, Options: options }]);
    assert.deepEqual(parseBridgeNetwork(inspect({})), { device: 'br-a1b2c3d4e5f6', subnet: '172.26.0.0/16' });
    assert.deepEqual(parseBridgeNetwork(inspect({ 'com.docker.network.bridge.name': 'wsk0' })), { device: 'wsk0', subnet: '172.26.0.0/16' });
    assert.throws(() => parseBridgeNetwork('[]'), /no network/);
    assert.throws(() => parseBridgeNetwork(JSON.stringify([{ Id: id, IPAM: { Config: [] } }])), /has no IPv4 subnet/);
  });

  it('gives client i a /24 of its own in the upper half of the subnet, at most 150 of them', () => {
    const plan = bridgeAddressPlan('172.26.0.0/16');
    assert.ok(plan);
    assert.equal(plan.addresses.length, 128);
    assert.equal(plan.address(0), '172.26.128.1');
    assert.equal(plan.address(127), '172.26.255.1');
    assert.equal(plan.address(128), '172.26.128.1', 'indexes past the count share networks');
    assert.equal(new Set(plan.addresses.map((a) => a.split('.').slice(0, 3).join('.'))).size, 128);
    const pool = bridgeAddressPlan('192.168.0.0/20');
    assert.deepEqual(pool?.addresses, ['192.168.8.1', '192.168.9.1', '192.168.10.1', '192.168.11.1', '192.168.12.1', '192.168.13.1', '192.168.14.1', '192.168.15.1']);
    assert.equal(bridgeAddressPlan('10.0.0.0/8')?.addresses.length, 150, 'capped');
    assert.equal(bridgeAddressPlan('10.0.0.0/8')?.address(0), '10.255.106.1');
    assert.equal(bridgeAddressPlan('192.168.5.0/23')?.address(3), '192.168.5.1', 'a /23 has one spare /24');
    assert.equal(bridgeAddressPlan('192.168.5.0/24'), undefined, 'no room for a second /24');
    assert.equal(bridgeAddressPlan('fd00::/64'), undefined);
  });

  it('writes one ip command per address', () => {
    assert.equal(ipBatch('add', ['172.26.100.1', '172.26.101.1'], 'br-x'), 'address add 172.26.100.1/32 dev br-x\naddress add 172.26.101.1/32 dev br-x\n');
    assert.equal(ipBatch('del', ['172.26.100.1'], 'br-x'), 'address del 172.26.100.1/32 dev br-x\n');
  });
});
