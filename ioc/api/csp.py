"""Content-Security-Policy of every page: scripts and styles only from our own files."""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'none'")
# The one-click acknowledgement page posts its own form.
CSP_FORMS = CSP.replace("form-action 'none'", "form-action 'self'")
