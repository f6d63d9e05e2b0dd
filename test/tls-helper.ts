// A self-signed certificate for this machine (localhost, 127.0.0.1, ::1), made by the `selfsigned` package:
// what a test serves HTTPS with (`startApp(t, { tls })`), and what its clients are told to trust, as an https
// Agent's `ca` or through NODE_EXTRA_CA_CERTS, the way docs/oauth.md tells users to.
import { generate } from 'selfsigned';

export interface TestCertificate {
  /** PEM. */
  cert: string;
  /** PEM (PKCS#8). */
  key: string;
}

export async function selfSignedCertificate(): Promise<TestCertificate> {
  // EC P-256: made in milliseconds, and what browsers and Node accept for a server certificate.
  const pems = await generate([{ name: 'commonName', value: 'Signet test' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
