import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSecureCookie } from '../lib/raw-polling.ts';
import { makeTlsMaterial, serverExtensions } from './tls-certs.ts';

test('serverExtensions: a leaf for serverAuth with the given SANs; bad SANs refused', () => {
  const ext = serverExtensions(['IP:127.0.0.1', 'DNS:localhost']);
  assert.match(ext, /^subjectAltName = IP:127\.0\.0\.1, DNS:localhost$/m);
  assert.match(ext, /CA:FALSE/);
  assert.match(ext, /extendedKeyUsage = serverAuth/);
  assert.throws(() => serverExtensions([]));
  assert.throws(() => serverExtensions(['IP:127.0.0.1, DNS:evil']));
});

test('makeTlsMaterial: the server certificate chains to the run CA only; reissue changes the serial in place', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wsk-tls-certs-'));
  try {
    const material = await makeTlsMaterial(dir);
    const ca = new X509Certificate(material.caPem);
    const pem = await readFile(material.serverPemPath, 'utf8');
    assert.match(pem, /BEGIN CERTIFICATE[\s\S]*BEGIN PRIVATE KEY/, 'certificate then key, in one file');
    const leaf = new X509Certificate(pem);
    assert.ok(leaf.verify(ca.publicKey), 'signed by the run CA');
    assert.ok(leaf.checkIssued(ca));
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.equal(leaf.checkHost('example.com'), undefined);
    assert.equal(leaf.serialNumber.toUpperCase(), material.serial);
    const other = await makeTlsMaterial(join(dir, 'other'));
    assert.ok(!leaf.verify(new X509Certificate(other.caPem).publicKey), 'another run\'s CA does not vouch for it');
    const { serial } = await material.reissue();
    assert.notEqual(serial, material.serial);
    assert.equal(new X509Certificate(await readFile(material.serverPemPath, 'utf8')).serialNumber.toUpperCase(), serial);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('isSecureCookie reads the attribute, not the value', () => {
  assert.equal(isSecureCookie('WSKSRV=abc; path=/; HttpOnly; Secure'), true);
  assert.equal(isSecureCookie('WSKSRV=abc; secure; SameSite=None'), true);
  assert.equal(isSecureCookie('WSKSRV=Secure; path=/; HttpOnly'), false);
  assert.equal(isSecureCookie('WSKSRV=abc; path=/secure'), false);
});
