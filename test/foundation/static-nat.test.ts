/**
 * The static NAT as the signaling service follows it per relayed response: the settings are
 * read at every call, the CIDR list parsed again only when one of the three values changed.
 */
import t from 'tap';
import { followStaticNat, natAddressFor, type NatSettings } from '../../server/core/static-nat.ts';

t.test('followStaticNat follows changes and keeps the parse while nothing changed', async (t) => {
  let settings: NatSettings = { 'nat.enabled': false, 'nat.publicIp': '', 'nat.localNetworks': '10.0.0.0/8' };
  let reads = 0;
  const nat = followStaticNat(() => {
    reads++;
    return settings;
  });
  t.equal(nat(), undefined, 'off');
  settings = { 'nat.enabled': true, 'nat.publicIp': '203.0.113.7', 'nat.localNetworks': '10.0.0.0/8' };
  const first = nat();
  t.equal(natAddressFor(first, '198.51.100.1'), '203.0.113.7', 'a peer outside gets the public IP');
  t.equal(natAddressFor(first, '10.1.2.3'), undefined, 'a peer inside does not');
  t.equal(nat(), first, 'unchanged: the same parse');
  settings = { ...settings, 'nat.localNetworks': '10.0.0.0/8,198.51.100.0/24' };
  t.equal(natAddressFor(nat(), '198.51.100.1'), undefined, 'a changed network list applies at the next read');
  t.equal(reads, 4, 'read at every call');
});
