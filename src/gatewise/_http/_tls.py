"""TLS through the standard ``ssl`` module: a client context per ``Request.ssl_verify``.

True verifies the upstream's certificate against the system's CA store (OpenSSL's default
paths, which ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` override) and checks its hostname; a
path verifies against that CA bundle instead (a PEM file, or a directory of hashed
certificates), hostname checked too; False checks nothing (the traffic is still
encrypted).  Contexts are made on first use (loading a CA store takes milliseconds) and
kept by the transport.
"""

from __future__ import annotations

import os
import ssl

from gatewise._http._models import SslVerify


def client_context(verify: SslVerify) -> ssl.SSLContext:
    """A fresh context for ``verify``; raises OSError when a CA bundle cannot be read."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        context = ssl.create_default_context()
    elif isinstance(verify, str) and os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    elif isinstance(verify, str):
        try:
            context = ssl.create_default_context(cafile=verify)
        except ssl.SSLError as exc:  # read, but not a CA bundle
            raise OSError(f"ssl_verify: {verify!r} holds no usable CA certificate "
                          f"({exc.reason or exc})") from None
        except FileNotFoundError:
            raise FileNotFoundError(f"ssl_verify: no CA bundle at {verify!r}") from None
    else:
        raise TypeError(f"ssl_verify must be a boolean or a path, not {type(verify).__name__}")
    context.set_alpn_protocols(["http/1.1"])
    return context


def why_untrusted(exc: ssl.SSLCertVerificationError, host: str) -> str:
    """What a failed verification says, with what to do about it."""
    reason = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
    if exc.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH
        return (f"the TLS certificate of {host} was refused: {reason} (it was made for "
                "other names: check the URL's host)")
    return (f"the TLS certificate of {host} was refused: {reason} (give ssl_verify the CA "
            "bundle that signed it, or false to skip verification)")
