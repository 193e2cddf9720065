"""Single sign-on to the admin console with the OpenID provider (authorization code with PKCE)."""
