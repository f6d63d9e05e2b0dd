// A real DNS server on loopback for the domain-claim and webhook tests: UDP on 127.0.0.1, port 0, answering TXT
// queries from a map the test edits (name -> records, each record a list of character-strings), and A / AAAA
// queries from another (name -> addresses, IPv4 and IPv6 mixed); any other name gets NXDOMAIN, and a name
// mapped to 'servfail' gets SERVFAIL.
//
// node:dgram and a hand-written codec rather than dns2 / dns-packet: the server needs one question in and TXT,
// A and AAAA answers out (about 60 lines of RFC 1035 and RFC 3596 wire format), and a devDependency for that would be more to trust
// than to read.
import { createSocket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface DnsServer {
  /** "127.0.0.1:PORT", as SIGNET_DNS_SERVERS takes it. */
  address: string;
  records: Map<string, string[][] | 'servfail'>;
  /** A and AAAA records: name -> addresses (a name with none of the asked family gets an empty answer). */
  addresses: Map<string, string[]>;
  /** The names asked for, in order. */
  queries: string[];
  close(): Promise<void>;
}

const TXT = 16;
const A = 1;
const AAAA = 28;

/** The 16 bytes of an IPv6 address in text (RFC 4291 section 2.2, without the dotted IPv4 tail). */
function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

function resourceRecord(type: number, rdata: Buffer): Buffer {
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // a pointer to the question's name
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(60, 6); // TTL
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([rr, rdata]);
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  for (;;) {
    const len = msg[i]!;
    if (len === 0) return { name: labels.join('.'), end: i + 1 };
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
}

function answer(query: Buffer, server: DnsServer): Buffer {
  const id = query.readUInt16BE(0);
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  server.queries.push(name.toLowerCase());
  const found = server.records.get(name.toLowerCase());
  const ips = server.addresses.get(name.toLowerCase());
  // Flags: response, recursion desired copied, recursion available; rcode 0, 2 (SERVFAIL) or 3 (NXDOMAIN).
  const rcode = found === 'servfail' ? 2 : found === undefined && ips === undefined ? 3 : 0;
  let answers: Buffer[] = [];
  if (rcode === 0 && qtype === TXT && found) {
    answers = (found as string[][]).map((strings) =>
      resourceRecord(
        TXT,
        Buffer.concat(
          strings.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])),
        ),
      ),
    );
  } else if (rcode === 0 && qtype === A && ips) {
    answers = ips
      .filter((ip) => isIPv4(ip))
      .map((ip) => resourceRecord(A, Buffer.from(ip.split('.').map(Number))));
  } else if (rcode === 0 && qtype === AAAA && ips) {
    answers = ips.filter((ip) => isIPv6(ip)).map((ip) => resourceRecord(AAAA, ipv6Bytes(ip)));
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

export async function startDnsServer(): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const server: DnsServer = {
    address: '',
    records: new Map(),
    addresses: new Map(),
    queries: [],
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    try {
      socket.send(answer(msg, server), rinfo.port, rinfo.address);
    } catch {
      // A malformed query gets no answer, as from a real server that drops it.
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  server.address = `127.0.0.1:${socket.address().port}`;
  return server;
}
