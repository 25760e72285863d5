// A local OpenID Connect provider for the browser tests (npm oidc-provider):
// real sign-in and consent forms (any password), PKCE required, roles in the
// ID token. Prints {"issuer": …} once listening. Test use only.
//   PORT=… REDIRECT=http://127.0.0.1:P/auth/callback USERS="ana:clinician vic:viewer" node op.mjs
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const users = Object.fromEntries((process.env.USERS || 'ana:clinician vic:viewer nobody:')
  .split(' ').filter(Boolean).map((u) => { const [n, r] = u.split(':'); return [n, r ? r.split(',') : []]; }));

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'islet',
    client_secret: 'islet-test-secret',
    redirect_uris: [process.env.REDIRECT],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'roles'],
  claims: { openid: ['sub'], profile: ['name'], roles: ['roles'] },
  conformIdTokenClaims: false, // the roles claim goes into the ID token
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, name: `Dr ${sub}`, roles: users[sub] ?? [] }),
  }),
  features: { devInteractions: { enabled: true } },
  ttl: { Session: 3600, Grant: 3600, IdToken: 300, AccessToken: 300, Interaction: 600 },
});
provider.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ issuer })));
