// A real OpenID provider for Steward's SSO tests: panva's certified oidc-provider, configured from a JSON file
// that tests/support/oidc.py writes (issuer, port, users, clients, resource servers, signing keys).
//
// What it adds around the library, for tests only:
// - a minimal login page (username + password, and a Cancel button that answers access_denied), with consent
//   granted automatically: Steward is a first-party client;
// - JWT access tokens (RFC 9068) for the configured resource indicators, carrying the user's groups and name;
// - POST /test/jwks (with the admin token) replaces the signing keys at runtime: the provider is rebuilt on the
//   new key set while the in-memory store (sessions, grants) lives on, so tests see a real key rotation.

import { readFileSync } from "node:fs";
import { createServer } from "node:http";

import { Provider } from "oidc-provider";

const configPath = process.argv[2] ?? process.env.OIDC_TEST_CONFIG;
if (!configPath) {
  console.error("usage: node provider.mjs CONFIG.json");
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, "utf8"));
const { issuer, port, users, clients, resources, adminToken, cookieKeys } = config;
const shortLived = new Set(config.shortLivedClients ?? []);

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function account(id) {
  const user = users[id];
  if (!user) return undefined;
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        name: user.name,
        preferred_username: id,
        email: user.email,
        email_verified: true,
        groups: user.groups,
      };
    },
  };
}

function build(jwks) {
  const provider = new Provider(issuer, {
    clients,
    jwks,
    cookies: { keys: cookieKeys },
    claims: {
      openid: ["sub"],
      profile: ["name", "preferred_username"],
      email: ["email", "email_verified"],
      groups: ["groups"],
    },
    scopes: ["openid", "offline_access", "profile", "email", "groups"],
    // The ID token carries the scopes' claims (name, email, groups): Steward reads them from it.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    findAccount: async (_ctx, sub) => account(sub),
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Tokens are for the API only when the client asks for it (resource=...).
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator, client) => {
          const server = resources[indicator];
          if (!server) throw new Error(`unknown resource ${indicator}`);
          return {
            scope: "api",
            audience: server.audience ?? indicator,
            accessTokenFormat: "jwt",
            accessTokenTTL: shortLived.has(client.clientId) ? 1 : 600,
            jwt: { sign: { alg: server.alg ?? "RS256" } },
          };
        },
      },
    },
    // The API's JWT access tokens name the user and their groups, as company providers are set up to do.
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== "AccessToken" || !token.accountId || !users[token.accountId]) return undefined;
      const user = users[token.accountId];
      return { groups: user.groups, name: user.name, email: user.email };
    },
    ttl: {
      AccessToken: (_ctx, _token, client) => (shortLived.has(client.clientId) ? 1 : 600),
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AuthorizationCode: 60,
    },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = `<!doctype html><html lang="en"><head><title>Error</title></head><body><main><h1>Error</h1>${Object.entries(
        out,
      )
        .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(v)}</p>`)
        .join("")}</main></body></html>`;
    },
  });
  provider.on("server_error", (_ctx, err) => console.error("server_error", err));
  return provider;
}

let provider = build(config.jwks);

function loginPage(uid, error = "") {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Test IdP</title></head>
<body><main>
<h1>Test identity provider</h1>
${error ? `<p role="alert" id="error">${escapeHtml(error)}</p>` : ""}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label for="username">Username</label> <input id="username" name="username" autocomplete="username" required>
  <label for="password">Password</label> <input id="password" name="password" type="password" required>
  <button type="submit" id="login">Sign in</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button type="submit" id="abort">Cancel</button>
</form>
</main></body></html>`;
}

function send(res, status, body, type = "text/html; charset=utf-8") {
  res.statusCode = status;
  res.setHeader("Content-Type", type);
  res.setHeader("Cache-Control", "no-store");
  res.end(body);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, "interaction mismatch", "text/plain");
  if (action === "" && req.method === "GET") {
    if (details.prompt.name === "login") return send(res, 200, loginPage(uid));
    // Consent: Steward is first-party, everything it asked for is granted.
    const { params, session, prompt } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (action === "login" && req.method === "POST") {
    const form = new URLSearchParams(await readBody(req));
    const username = form.get("username") ?? "";
    const user = users[username];
    if (!user || user.password !== form.get("password")) {
      return send(res, 401, loginPage(uid, "Unknown user or wrong password."));
    }
    return provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
  }
  if (action === "abort" && req.method === "POST") {
    const result = { error: "access_denied", error_description: "End-User aborted interaction" };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  return send(res, 404, "not found", "text/plain");
}

async function rotate(req, res) {
  if (req.headers.authorization !== `Bearer ${adminToken}`) return send(res, 401, "no", "text/plain");
  const jwks = JSON.parse(await readBody(req));
  provider = build(jwks);
  send(res, 200, JSON.stringify({ kids: jwks.keys.map((k) => k.kid) }), "application/json");
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
    if (match) return await interaction(req, res, match[1], match[2] ?? "");
    if (url.pathname === "/test/jwks" && req.method === "POST") return await rotate(req, res);
    return provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, String(err?.message ?? err), "text/plain");
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
