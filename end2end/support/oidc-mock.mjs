// A real OpenID Connect provider for the sign-in tests: oauth2-mock-server on loopback, plus a
// small control server that says who signs in next and how to spoil the next ID token.
//
//   node end2end/support/oidc-mock.mjs        (OIDC_MOCK_PORT / OIDC_MOCK_CONTROL_PORT, 0 = any)
// prints one JSON line: {"issuer": "http://127.0.0.1:…", "control": "http://127.0.0.1:…"}.
//
// POST {control}/next-user  {"sub", "email", "email_verified", "name", "spoil"}
//   spoil: null | "audience" | "issuer" | "nonce" | "expired" | "foreign-key"
// It applies to every token until the next POST.
import { createServer } from 'node:http';
import { generateKeyPairSync, sign } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';

const host = '127.0.0.1';
const defaults = () => ({ sub: 'mock-user-1', email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', spoil: null });
let next = defaults();

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

// Claims go into the ID token only (the access token is opaque to the minter).
server.service.on('beforeTokenSigning', (token) => {
  const isIdToken = !('amr' in token.payload);
  if (!isIdToken) return;
  const { sub, email, email_verified, name, spoil } = next;
  Object.assign(token.payload, { sub, email, email_verified, name });
  const now = Math.floor(Date.now() / 1000);
  if (spoil === 'audience') token.payload.aud = 'some-other-client';
  if (spoil === 'issuer') token.payload.iss = 'https://issuer.invalid';
  if (spoil === 'nonce') token.payload.nonce = 'not-the-nonce-we-were-sent';
  if (spoil === 'expired') Object.assign(token.payload, { iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
});

// "Signed by another key": same header (kid of the published key), same claims, but the
// signature comes from a key the provider never published.
const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
server.service.on('beforeResponse', (response) => {
  if (next.spoil !== 'foreign-key' || !response.body.id_token) return;
  const [header, payload] = response.body.id_token.split('.');
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), rogue).toString('base64url');
  response.body.id_token = `${header}.${payload}.${signature}`;
});

await server.start(Number(process.env.OIDC_MOCK_PORT ?? 0), host);
server.issuer.url = `http://${host}:${server.address().port}`;

const control = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/next-user') {
      try {
        next = { ...defaults(), ...JSON.parse(body || '{}') };
        res.writeHead(204).end();
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(e));
      }
    } else {
      res.writeHead(404).end();
    }
  });
});
control.listen(Number(process.env.OIDC_MOCK_CONTROL_PORT ?? 0), host, () => {
  const issuer = server.issuer.url;
  console.log(JSON.stringify({ issuer, control: `http://${host}:${control.address().port}` }));
});

// Stop with the parent: a test that spawns the mock with a piped stdin ends it by closing it.
if (process.env.OIDC_MOCK_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
