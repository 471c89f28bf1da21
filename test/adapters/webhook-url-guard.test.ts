import { checkWebhookUrl, type Resolver } from '../../functions/adapters/webhooks/url-guard';

// The resolver is injected so that no test touches real DNS; a name maps to the addresses an
// attacker would make it resolve to.
const fakeDns: Record<string, string[]> = {
  'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'public.example': ['93.184.215.14'],
  'rebind.example': ['127.0.0.1'],
  'metadata.example': ['169.254.169.254'],
  'half-private.example': ['93.184.215.14', '10.0.0.7'],
  'mapped.example': ['::ffff:192.168.1.1'],
  'nowhere.example': [],
  'localhost': ['127.0.0.1', '::1'],
};
const resolve: Resolver = async (hostname) => {
  const addresses = fakeDns[hostname];
  if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const check = (url: string, allowPrivate = false) => checkWebhookUrl(url, { resolve, allowPrivate });

describe('SSRF guard for webhook URLs', () => {
  it.each([
    ['cloud metadata (link-local)', 'https://169.254.169.254/latest/meta-data/'],
    ['cloud metadata over http', 'http://169.254.169.254'],
    ['decimal IPv4 for 127.0.0.1', 'https://2130706433/'],
    ['decimal IPv4 over http', 'http://2130706433'],
    ['octal IPv4 for 127.0.0.1', 'https://0177.0.0.1/'],
    ['octal IPv4 over http', 'http://0177.0.0.1'],
    ['IPv4-mapped private over http', 'http://[::ffff:10.0.0.1]'],
    ['unique-local over http', 'http://[fd00::1]'],
    ['carrier-grade NAT over http', 'http://100.64.0.1'],
    ['hexadecimal IPv4 for 127.0.0.1', 'https://0x7f.0.0.1/'],
    ['shortened IPv4 for 127.0.0.1', 'https://127.1/'],
    ['IPv4-mapped IPv6 of a private address', 'https://[::ffff:10.0.0.1]/'],
    ['IPv4-mapped IPv6 of loopback', 'https://[::ffff:127.0.0.1]/'],
    ['IPv4-compatible IPv6 of a private address', 'https://[::10.0.0.1]/'],
    ['NAT64 of a private address', 'https://[64:ff9b::a00:1]/'],
    ['unique-local IPv6', 'https://[fd00::1]/'],
    ['unique-local IPv6 (fc00::/7 lower half)', 'https://[fc00::1]/'],
    ['link-local IPv6', 'https://[fe80::1]/'],
    ['IPv6 loopback', 'https://[::1]/'],
    ['IPv6 unspecified', 'https://[::]/'],
    ['IPv6 multicast', 'https://[ff02::1]/'],
    ['IPv6 documentation', 'https://[2001:db8::1]/'],
    ['6to4', 'https://[2002:a00:1::1]/'],
    ['Teredo', 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/'],
    ['carrier-grade NAT', 'https://100.64.0.1/'],
    ['private 10/8', 'https://10.1.2.3/'],
    ['private 172.16/12', 'https://172.31.255.1/'],
    ['private 192.168/16', 'https://192.168.0.1/'],
    ['loopback', 'https://127.0.0.1/'],
    ['loopback with a port', 'https://127.0.0.1:8443/hook'],
    ['0.0.0.0/8', 'https://0.0.0.0/'],
    ['"0" (0.0.0.0)', 'https://0/'],
    ['0.1.2.3 in 0/8', 'https://0.1.2.3/'],
    ['broadcast', 'https://255.255.255.255/'],
    ['multicast', 'https://224.0.0.1/'],
    ['reserved 240/4', 'https://240.0.0.1/'],
    ['documentation TEST-NET-3', 'https://203.0.113.9/'],
    ['benchmarking 198.18/15', 'https://198.18.0.1/'],
    ['a name that resolves to 127.0.0.1', 'https://rebind.example/hook'],
    ['a name that resolves to the metadata address', 'https://metadata.example/'],
    ['a name with one public and one private address', 'https://half-private.example/'],
    ['a name that resolves to IPv4-mapped private IPv6', 'https://mapped.example/'],
    ['localhost', 'https://localhost/'],
    ['a name that does not resolve', 'https://unknown.example/'],
    ['a name with no addresses', 'https://nowhere.example/'],
    ['userinfo pointing the eye elsewhere', 'https://public.example@127.0.0.1/'],
    ['userinfo on a public host', 'https://user:pass@hooks.example.com/'],
    ['plain http to a public host', 'http://hooks.example.com/'],
    ['ftp', 'ftp://hooks.example.com/'],
    ['file', 'file:///etc/passwd'],
    ['javascript', 'javascript:alert(1)'],
    ['data', 'data:text/plain,hi'],
    ['gopher', 'gopher://127.0.0.1:6379/_INFO'],
    ['port 0', 'https://hooks.example.com:0/'],
    ['not a URL', 'hooks.example.com/webhook'],
    ['an empty string', ''],
  ])('refuses %s: %s', async (_what, url) => {
    const result = await check(url);

    expect(result).toEqual({ ok: false, reason: expect.any(String) });
  });

  it.each([
    ['a public IPv4 literal', 'https://93.184.215.14/hook', '93.184.215.14'],
    ['a public IPv6 literal', 'https://[2606:4700::6810:84e5]/hook', '2606:4700::6810:84e5'],
    ['a name whose addresses are all public', 'https://hooks.example.com/webhooks?x=1', '93.184.215.14'],
    ['a public host on another port', 'https://hooks.example.com:8443/webhooks', '93.184.215.14'],
  ])('allows %s and returns the address it checked', async (_what, url, address) => {
    const result = await check(url);

    expect(result).toEqual({ ok: true, target: { url: new URL(url).href, address, family: address.includes(':') ? 6 : 4 } });
  });

  it.each([
    ['http://2130706433', 'https://2130706433/', '127.0.0.1', 'loopback'],
    ['http://0177.0.0.1', 'https://0177.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://[::ffff:10.0.0.1]', 'https://[::ffff:10.0.0.1]/', '[::ffff:a00:1]', 'private'],
    ['http://[fd00::1]', 'https://[fd00::1]/', '[fd00::1]', 'uniqueLocal'],
    ['http://100.64.0.1', 'https://100.64.0.1/', '100.64.0.1', 'carrierGradeNat'],
  ])('judges %s by the address WHATWG URL normalises it to, not by a failed lookup', async (_what, url, host, kind) => {
    const result = await check(url);

    expect(result).toEqual({ ok: false, reason: `The host ${host} resolves to a non-public address (${kind}).` });
  });

  it('says which class of address it refused, without resolving anything else', async () => {
    await expect(check('https://rebind.example/')).resolves.toEqual({
      ok: false,
      reason: 'The host rebind.example resolves to a non-public address (loopback).',
    });
    await expect(check('http://169.254.169.254')).resolves.toEqual({ ok: false, reason: 'The URL must use https.' });
    await expect(check('https://169.254.169.254')).resolves.toEqual({
      ok: false,
      reason: 'The host 169.254.169.254 resolves to a non-public address (linkLocal).',
    });
  });

  describe('in the local stack (WEBHOOK_ALLOW_PRIVATE_URLS=1)', () => {
    it.each([
      ['http on loopback', 'http://127.0.0.1:4321/hook', '127.0.0.1'],
      ['http on IPv6 loopback', 'http://[::1]:4321/hook', '::1'],
      ['localhost', 'http://localhost:4321/hook', '127.0.0.1'],
      ['a private address', 'http://192.168.1.20/hook', '192.168.1.20'],
    ])('allows %s', async (_what, url, address) => {
      const result = await check(url, true);

      expect(result).toMatchObject({ ok: true, target: { address } });
    });

    it.each([
      ['cloud metadata', 'http://169.254.169.254/'],
      ['a name resolving to cloud metadata', 'http://metadata.example/'],
      ['0.0.0.0', 'http://0.0.0.0:4321/'],
      ['userinfo', 'http://public.example@127.0.0.1/'],
      ['ftp', 'ftp://127.0.0.1/'],
    ])('still refuses %s', async (_what, url) => {
      const result = await check(url, true);

      expect(result.ok).toBe(false);
    });
  });
});
