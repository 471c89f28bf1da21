import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import type { WebhookUrlGuard } from '../../domain/ports';
import type { UrlCheck } from '../../domain/webhooks';

/** One address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all its addresses (node:dns `lookup` with `all: true` by default). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** How the guard is set up. */
export interface UrlGuardOptions {
  /**
   * The local stack (`WEBHOOK_ALLOW_PRIVATE_URLS=1`): allows `http:` and loopback or private
   * addresses, so that receivers on 127.0.0.1 work. Link-local (cloud metadata) stays refused.
   */
  allowPrivate?: boolean;
  /** Replaces DNS, for tests. */
  resolve?: Resolver;
}

/** The resolver of the operating system, as the HTTP client itself would use it. */
export const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Special-purpose blocks that ipaddr.js 1.9 classifies as `unicast` (2.x knows most of them):
 * benchmarking, the IETF protocol assignments around Teredo, and the 2024 documentation block.
 */
const EXTRA_NON_PUBLIC = ['198.18.0.0/15', '2001::/23', '3fff::/20'].map((cidr) => ipaddr.parseCIDR(cidr));

/** The only IPv6 block IANA allocates for global unicast. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** Classes refused in production but allowed in the local stack. */
const LOCAL_ONLY = new Set(['loopback', 'private', 'uniqueLocal']);

/**
 * The class of an address: `public` or ipaddr.js's name for the special range. IPv4-mapped
 * IPv6 addresses are judged as the IPv4 address they carry.
 */
export const classifyAddress = (address: Address): string => {
  if (address instanceof ipaddr.IPv6) {
    if (address.isIPv4MappedAddress()) return classifyAddress(address.toIPv4Address());
    const range = address.range();
    if (range !== 'unicast') return range;
    // ::/8 (IPv4-compatible, deprecated), 64:ff9b::/96 (NAT64), 100::/64 (discard), … all lie
    // outside 2000::/3 and are never a public endpoint.
    if (!address.match(GLOBAL_UNICAST_V6)) return 'reserved';
  } else {
    const range = address.range();
    if (range !== 'unicast') return range;
  }
  for (const [block, bits] of EXTRA_NON_PUBLIC) {
    if (block instanceof ipaddr.IPv6 && address instanceof ipaddr.IPv6 && address.match(block, bits)) return 'reserved';
    if (block instanceof ipaddr.IPv4 && address instanceof ipaddr.IPv4 && address.match(block, bits)) return 'reserved';
  }
  return 'public';
};

const refuse = (reason: string): UrlCheck => ({ ok: false, reason });

/** An IP literal host as WHATWG URL leaves it (IPv6 in brackets), or undefined for a name. */
const ipLiteral = (hostname: string): string | undefined => {
  if (hostname.startsWith('[') && hostname.endsWith(']')) return hostname.slice(1, -1);
  // WHATWG URL has already turned decimal, octal and hex IPv4 forms into dotted quads.
  return ipaddr.IPv4.isValidFourPartDecimal(hostname) ? hostname : undefined;
};

/**
 * The SSRF guard: a URL may be called only over https, without userinfo, when every address its
 * host resolves to is public unicast. Returns the address that was checked, to connect to.
 */
export const checkWebhookUrl = async (raw: string, options: UrlGuardOptions = {}): Promise<UrlCheck> => {
  const allowPrivate = options.allowPrivate ?? false;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('The URL is not valid.');
  }
  const schemes = allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) return refuse(`The URL must use ${allowPrivate ? 'http or https' : 'https'}.`);
  if (url.username !== '' || url.password !== '') return refuse('The URL must not carry a user name or password.');
  if (url.hostname === '') return refuse('The URL has no host.');
  if (url.port === '0') return refuse('The URL has an invalid port.');

  const literal = ipLiteral(url.hostname);
  let addresses: ResolvedAddress[];
  if (literal !== undefined) {
    addresses = [{ address: literal, family: literal.includes(':') ? 6 : 4 }];
  } else {
    try {
      addresses = await (options.resolve ?? systemResolver)(url.hostname);
    } catch {
      return refuse(`The host ${url.hostname} could not be resolved.`);
    }
    if (addresses.length === 0) return refuse(`The host ${url.hostname} could not be resolved.`);
  }

  // Every address must pass, not just the first: the client may pick any of them.
  for (const { address } of addresses) {
    let parsed: Address;
    try {
      parsed = ipaddr.parse(address);
    } catch {
      return refuse(`The host ${url.hostname} resolves to an address that is not valid.`);
    }
    const kind = classifyAddress(parsed);
    if (kind !== 'public' && !(allowPrivate && LOCAL_ONLY.has(kind))) {
      return refuse(`The host ${url.hostname} resolves to a non-public address (${kind}).`);
    }
  }
  const first = addresses[0]!;
  return { ok: true, target: { url: url.href, address: first.address, family: first.family === 6 ? 6 : 4 } };
};

/** The `WebhookUrlGuard` port over `checkWebhookUrl`. */
export class DnsWebhookUrlGuard implements WebhookUrlGuard {
  constructor(private readonly options: UrlGuardOptions = {}) {}

  /** Checks `url` now; call again at each delivery, since DNS answers change. */
  check(url: string): Promise<UrlCheck> {
    return checkWebhookUrl(url, this.options);
  }
}
