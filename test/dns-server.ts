// A real DNS server on loopback for the domain-claim tests: UDP on 127.0.0.1, port 0, answering TXT queries
// from a map the test edits (name -> records, each record a list of character-strings); any other name gets
// NXDOMAIN, and a name mapped to 'servfail' gets SERVFAIL.
//
// node:dgram and a hand-written codec rather than dns2 / dns-packet: the server needs one question in and TXT
// answers out (about 40 lines of RFC 1035 wire format), and a devDependency for that would be more to trust
// than to read.
import { createSocket } from 'node:dgram';

export interface DnsServer {
  /** "127.0.0.1:PORT", as SIGNET_DNS_SERVERS takes it. */
  address: string;
  records: Map<string, string[][] | 'servfail'>;
  /** The names asked for, in order. */
  queries: string[];
  close(): Promise<void>;
}

const TXT = 16;

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
  // Flags: response, recursion desired copied, recursion available; rcode 0, 2 (SERVFAIL) or 3 (NXDOMAIN).
  const rcode = found === 'servfail' ? 2 : found === undefined ? 3 : 0;
  const answers =
    rcode === 0 && qtype === TXT
      ? (found as string[][]).map((strings) => {
          const rdata = Buffer.concat(
            strings.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])),
          );
          const rr = Buffer.alloc(12);
          rr.writeUInt16BE(0xc00c, 0); // a pointer to the question's name
          rr.writeUInt16BE(TXT, 2);
          rr.writeUInt16BE(1, 4); // IN
          rr.writeUInt32BE(60, 6); // TTL
          rr.writeUInt16BE(rdata.length, 10);
          return Buffer.concat([rr, rdata]);
        })
      : [];
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
