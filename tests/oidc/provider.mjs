// A real OpenID Provider for Postern's single sign-on tests: panva's certified `oidc-provider`,
// configured as an enterprise identity provider would be for Postern (code flow, PKCE, groups
// and amr/acr in the ID token, back-channel logout).
//
// Started by tests/support/openid_provider.py on a free loopback port. It prints one JSON line,
// {"issuer": "http://127.0.0.1:PORT"}, once it listens. Its state lives in two JSON files in
// the directory named by OIDC_STATE_DIR, read again on every use so that a test can change them
// between sign-ins (remove a user from a group, register the portal's port once it is known):
//   users.json    {"<username>": {"sub", "password", "email", "name", "groups": [], "amr": [],
//                                  "acr", "auth_age"}}
//   clients.json  [{client_id, client_secret, redirect_uris, backchannel_logout_uri, ...}]
// Nothing here is for production: the signing key is the starting test's, the cookie keys are
// made at start-up, and all are forgotten at exit.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';

import Provider from 'oidc-provider';

const stateDir = process.env.OIDC_STATE_DIR;
if (!stateDir) {
  console.error('OIDC_STATE_DIR must name the directory holding users.json and clients.json');
  process.exit(2);
}

function readJson(name, fallback) {
  try {
    return JSON.parse(readFileSync(path.join(stateDir, name), 'utf8'));
  } catch (problem) {
    if (problem.code === 'ENOENT') return fallback;
    throw problem;
  }
}

const users = () => readJson('users.json', {});
const userBySub = (sub) => Object.values(users()).find((user) => user.sub === sub);

// Storage for the provider's own records (sessions, codes, grants) in memory; clients come from
// clients.json so the test can register the portal's redirect URI after choosing its port.
const store = new Map();

class Adapter {
  constructor(name) {
    this.name = name;
  }

  key(id) {
    return `${this.name}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    store.set(this.key(id), { payload, expiresAt });
    if (payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      store.set(grantKey, [...(store.get(grantKey) || []), this.key(id)]);
    }
    if (payload.uid) store.set(`uid:${this.name}:${payload.uid}`, id);
    if (payload.userCode) store.set(`userCode:${this.name}:${payload.userCode}`, id);
  }

  async find(id) {
    if (this.name === 'Client') {
      return readJson('clients.json', []).find((client) => client.client_id === id);
    }
    const entry = store.get(this.key(id));
    if (!entry || (entry.expiresAt && entry.expiresAt < Date.now())) return undefined;
    return entry.payload;
  }

  async findByUid(uid) {
    const id = store.get(`uid:${this.name}:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode) {
    const id = store.get(`userCode:${this.name}:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of store.get(`grant:${grantId}`) || []) store.delete(key);
    store.delete(`grant:${grantId}`);
  }
}

// OIDC_SIGNING_JWK: the private RSA JWK this provider signs with, made by the test that starts it
// (tests/support/openid_provider.py) and forgotten at exit. The provider never makes its own:
// Node 20's generateKeyPairSync followed by export({format: 'jwk'}) deadlocks now and then (a
// garbage collection during the export frees the generation job, whose destructor waits for the
// key's lock the export holds), leaving a provider that never listens.
if (!process.env.OIDC_SIGNING_JWK) {
  console.error('OIDC_SIGNING_JWK must hold the private RSA JWK to sign with');
  process.exit(2);
}
const givenKey = JSON.parse(process.env.OIDC_SIGNING_JWK);
const signingKey = { ...givenKey, kid: givenKey.kid ?? 'test-key-1', use: 'sig', alg: 'RS256' };

const page = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const configuration = {
  adapter: Adapter,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    // amr and acr with the openid scope: in every ID token of a session that has them, as
    // enterprise providers send them (a standalone claim would need asking for).
    openid: ['sub', 'amr', 'acr', 'auth_time'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Enterprise providers put the groups claim in the ID token (Entra ID, Okta): so does this one.
  conformIdTokenClaims: false,
  acrValues: ['urn:postern:test:mfa', 'urn:postern:test:password'],
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out of the identity provider', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out of the identity provider', '<p>You have signed out.</p>');
      },
    },
  },
  pkce: { required: () => true },
  // The portal under test listens on loopback, which the provider's SSRF guard refuses for
  // its outgoing calls (back-channel logout): let them through here, and only here.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Identity provider error', `<p>${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
  async findAccount(ctx, sub) {
    const user = userBySub(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        const current = userBySub(sub) || user; // read again: groups may have changed
        return {
          sub,
          email: current.email,
          email_verified: true,
          name: current.name,
          preferred_username: current.username,
          groups: current.groups || [],
        };
      },
    };
  },
  // The portal is a first-party client: no consent screen, as an enterprise IdP's admin consent.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const existing = await ctx.oidc.provider.Grant.find(grantId);
      if (existing) return existing;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
};

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function loginForm(uid, error) {
  const alert = error ? `<p role="alert">${escape(error)}</p>` : '';
  return page('Sign in to the identity provider', `${alert}
<form method="post" action="/interaction/${escape(uid)}/login">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password"></p>
<p><button type="submit">Sign in</button></p>
</form>`);
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    if (details.prompt.name !== 'login') {
      // Any other prompt (consent) is granted by loadExistingGrant: finish with nothing new.
      await provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
      return;
    }
    send(res, 200, loginForm(details.uid));
    return;
  }
  const form = await readForm(req);
  const user = users()[form.get('username') || ''];
  if (!user || user.password !== form.get('password')) {
    send(res, 401, loginForm(details.uid, 'The username or password is not right.'));
    return;
  }
  const login = { accountId: user.sub, remember: false };
  // auth_age (seconds): report the sign-in as that much older than it is, as a provider that
  // ignored prompt=login would (its ID token's auth_time is the old sign-in's).
  if (user.auth_age) login.ts = Math.floor(Date.now() / 1000) - user.auth_age;
  if (user.amr) login.amr = user.amr;
  if (user.acr) login.acr = user.acr;
  await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
}

// HTTPS when OIDC_TLS_CERT and OIDC_TLS_KEY name PEM files (the production-like stack's, whose
// CA the portal trusts): production refuses an http:// issuer.
const tls = process.env.OIDC_TLS_CERT && process.env.OIDC_TLS_KEY;
const server = tls
  ? https.createServer({
    cert: readFileSync(process.env.OIDC_TLS_CERT),
    key: readFileSync(process.env.OIDC_TLS_KEY),
  })
  : http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  provider.on('backchannel.error', (ctx, err) => console.error(`back-channel logout failed: ${err.message}`));
  provider.on('server_error', (ctx, err) => console.error(err));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((problem) => {
        console.error(problem);
        send(res, 400, page('Identity provider error', `<p>${escape(problem.message)}</p>`));
      });
      return;
    }
    callback(req, res);
  });
  console.log(JSON.stringify({ issuer }));
});
