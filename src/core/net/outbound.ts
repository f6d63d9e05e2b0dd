// The outbound request guard (docs/webhooks.md, "Outbound requests"): every URL Signet calls on someone's
// behalf is checked here, so a webhook URL cannot make Signet reach its own network (SSRF; OWASP's SSRF
// cheat sheet, "case 2", and Standard Webhooks' security notes). Only https (http when the operator allows
// it); every A/AAAA record of the host is resolved and each must be a public unicast address, unless
// SIGNET_OUTBOUND_ALLOW names the host or a range holding the address; the connection then goes to the
// address that was checked (never resolved again, so DNS rebinding cannot swap it), and is checked again on
// every attempt.
import { promises as dns } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { AppError, invalidField } from '../errors.ts';

export interface OutboundPolicy {
  /** Hosts (exact, case-insensitive) and IP addresses or CIDR ranges let through the private-address check. */
  allow: readonly string[];
  /** Whether http:// URLs are accepted (tests, receivers on a trusted network). */
  allowHttp: boolean;
}

// Ranges no webhook may reach: loopback, "this network", RFC 1918, CGNAT, link-local (cloud metadata lives at
// 169.254.169.254), IETF protocol assignments, benchmarking, documentation, multicast, reserved, broadcast;
// for IPv6 the unspecified and loopback addresses, IPv4-mapped and NAT64 (both reach IPv4 space), discard,
// documentation, ULA, link-local, the old site-local and multicast.
const BLOCKED: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['::ffff:0:0', 96, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];
// One list per family: a BlockList checks an IPv4 address against its IPv6 rules too, as the IPv4-mapped
// address, so ::ffff:0:0/96 in the same list would block every IPv4 address.
const blocked = { ipv4: new BlockList(), ipv6: new BlockList() };
for (const [net, prefix, type] of BLOCKED) blocked[type].addSubnet(net, prefix, type);

const familyOf = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** Whether an address is one no outbound request may reach (unless the policy allows it). */
export function isBlockedAddress(ip: string): boolean {
  if (isIP(ip) === 0) return true;
  const family = familyOf(ip);
  return blocked[family].check(ip, family);
}

/** Reads SIGNET_OUTBOUND_ALLOW's entries: an IP, a CIDR range, or a host name. Throws on a malformed range. */
export function parseAllowList(entries: readonly string[]): { hosts: Set<string>; ranges: BlockList } {
  const hosts = new Set<string>();
  const ranges = new BlockList();
  for (const entry of entries) {
    const [net, prefix, extra] = entry.split('/');
    if (extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) {
      throw new Error(`SIGNET_OUTBOUND_ALLOW: "${entry}" is not a host, an address or a CIDR range`);
    }
    const v = isIP(net!);
    if (v === 0) {
      if (prefix !== undefined) throw new Error(`SIGNET_OUTBOUND_ALLOW: "${entry}" is not a CIDR range`);
      hosts.add(net!.toLowerCase());
      continue;
    }
    const bits = prefix === undefined ? (v === 4 ? 32 : 128) : Number(prefix);
    if (bits > (v === 4 ? 32 : 128))
      throw new Error(`SIGNET_OUTBOUND_ALLOW: "${entry}" has too long a prefix`);
    ranges.addSubnet(net!, bits, v === 4 ? 'ipv4' : 'ipv6');
  }
  return { hosts, ranges };
}

/** The URL's host as a name or a bare address (IPv6 literals lose their brackets). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * Checks what can be checked without the network: an absolute https URL (http when allowed), no user or
 * password in it, and, when the host is an address, one the guard lets through. Returns the URL as given.
 */
export function checkUrlShape(raw: string, policy: OutboundPolicy, field: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidField(field, 'must be an absolute URL, like https://example.com/webhooks');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw invalidField(
      field,
      policy.allowHttp
        ? 'must be an https:// or http:// URL'
        : 'must be an https:// URL (http:// is not allowed here)',
    );
  }
  if (url.username || url.password) throw invalidField(field, 'must not carry a user name or password');
  const host = hostOf(url);
  if (isIP(host) !== 0 && refusal(host, host, policy) !== null) {
    throw invalidField(
      field,
      `${host} is a private, loopback or reserved address, which webhooks cannot reach`,
    );
  }
  return raw;
}

/** Why an address may not be reached for this host (null: it may). */
function refusal(host: string, ip: string, policy: OutboundPolicy): string | null {
  if (!isBlockedAddress(ip)) return null;
  const allow = allowListOf(policy);
  if (allow.hosts.has(host) || allow.ranges.check(ip, familyOf(ip))) return null;
  return `${host} resolves to ${ip}, a private, loopback or reserved address (SIGNET_OUTBOUND_ALLOW can allow it)`;
}

const allowLists = new WeakMap<OutboundPolicy, ReturnType<typeof parseAllowList>>();
function allowListOf(policy: OutboundPolicy) {
  let parsed = allowLists.get(policy);
  if (!parsed) {
    parsed = parseAllowList(policy.allow);
    allowLists.set(policy, parsed);
  }
  return parsed;
}

/** A destination the guard refused; the delivery log records the message. */
export class OutboundRefused extends AppError {
  constructor(message: string) {
    super('invalid_request', message);
  }
}

export type Resolve = (host: string) => Promise<string[]>;

/** Every A and AAAA record of a host, through the given DNS servers (or the system's resolver). */
export function resolverFor(servers: readonly string[]): Resolve {
  if (servers.length === 0) {
    return async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  }
  const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([...servers]);
  const none = (err: { code?: string }) => {
    if (err.code === 'ENODATA' || err.code === 'ENOTFOUND') return [] as string[];
    throw err;
  };
  return async (host) => {
    const [v4, v6] = await Promise.all([
      resolver.resolve4(host).catch(none),
      resolver.resolve6(host).catch(none),
    ]);
    return [...v4, ...v6];
  };
}

/**
 * The address to connect to for `url`: its host resolved, every address checked (one private address is
 * enough to refuse: a name that also resolves to a public one would otherwise reach the private one at
 * random). Throws OutboundRefused.
 */
export async function checkedAddress(url: URL, policy: OutboundPolicy, resolve: Resolve): Promise<string> {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw new OutboundRefused(`${url.protocol} URLs are not allowed (https only)`);
  }
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      throw new OutboundRefused(
        `${host} could not be resolved (${(err as { code?: string }).code ?? 'error'})`,
      );
    }
  }
  if (addresses.length === 0) throw new OutboundRefused(`${host} has no A or AAAA record`);
  for (const ip of addresses) {
    const why = refusal(host, ip, policy);
    if (why) throw new OutboundRefused(why);
  }
  return addresses[0]!;
}

export interface OutboundAnswer {
  status: number;
  /** The Retry-After header, if any. */
  retryAfter: string | undefined;
  /** The first bytes of the body (at most 1 kB), for the delivery log. */
  excerpt: string;
}

const EXCERPT_BYTES = 1024;

/** Request options that connect to the checked `address` whatever the name resolves to by now. */
function pinned(address: string, timeoutMs: number): http.RequestOptions {
  const family = isIP(address);
  return {
    // Pinned: the connection goes to the address checked (the TLS name is still the host's).
    lookup: (_host, opts, cb) => {
      if ((opts as { all?: boolean }).all)
        (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
      else cb(null, address, family);
    },
    agent: false,
    signal: AbortSignal.timeout(timeoutMs),
  };
}

/**
 * POSTs `body` to `url` through the guard: resolved and checked now, connected to the checked address (the
 * TLS name is still the host's), no redirect followed (a 3xx is an answer like any other), `timeoutMs` for the
 * whole exchange. Throws OutboundRefused when the guard refuses, or the network error.
 */
export async function guardedPost(
  url: URL,
  headers: Record<string, string>,
  body: string,
  policy: OutboundPolicy,
  resolve: Resolve,
  timeoutMs: number,
  /** Another body type (a form, for an OAuth token request) and how much of the answer to keep. */
  opts: { contentType?: string; keepBytes?: number } = {},
): Promise<OutboundAnswer> {
  const keep = opts.keepBytes ?? EXCERPT_BYTES;
  const address = await checkedAddress(url, policy, resolve);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<OutboundAnswer>((done, fail) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': opts.contentType ?? 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Signet-Webhooks/1',
        },
        ...pinned(address, timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < keep) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            excerpt: Buffer.concat(chunks).subarray(0, keep).toString('utf8'),
          }),
        );
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

export interface FetchedBody {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/**
 * GETs `url` through the same guard as guardedPost (checked, pinned, no redirect, `timeoutMs` for the whole
 * exchange), reading at most `maxBytes` of the body: a longer one is refused with OutboundRefused while it is
 * read, so a huge answer never fills memory. An envelope's `document_url` is fetched here.
 */
export async function guardedGet(
  url: URL,
  policy: OutboundPolicy,
  resolve: Resolve,
  timeoutMs: number,
  maxBytes: number,
): Promise<FetchedBody> {
  const address = await checkedAddress(url, policy, resolve);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<FetchedBody>((done, fail) => {
    const req = client.request(
      url,
      { method: 'GET', headers: { 'user-agent': 'Signet/1' }, ...pinned(address, timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new OutboundRefused(`the document at ${url.host} is larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end();
  });
}
