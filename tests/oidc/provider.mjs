// An OpenID provider for opsgate's sign-in tests: the npm package oidc-provider with its
// development login and consent pages (any password is accepted; the login is the account).
// Settings come from the environment; it prints "listening <issuer>" when ready.
import { Provider } from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.ACCOUNTS || "{}");

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    post_logout_redirect_uris: [process.env.POST_LOGOUT_URI],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  pkce: { required: () => true },  // the client must use PKCE (S256)
  claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email"], groups: ["groups"] },
  scopes: ["openid", "profile", "email", "groups", "offline_access"],
  conformIdTokenClaims: false,  // put the scopes' claims in the ID token too
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ["opsgate-test-cookie-key"] },
  async findAccount(ctx, id) {
    const known = accounts[id] || { groups: [], email: `${id}@example.org` };
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: `${id} Example`, email: known.email, groups: known.groups };
      },
    };
  },
});
provider.proxy = false;
provider.listen(port, "127.0.0.1", () => console.log(`listening ${issuer}`));
