"""The production-like stack's certificate authority: made for the run, trusted by Python clients
through its file and by Chromium through the server key's pin."""

from __future__ import annotations

import base64
import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

#: The app's host name: what TRUSTED_HOSTS lists and what the certificate names.
HOST = "localhost"
#: The Stripe sandbox's host: another origin than the app's, as js.stripe.com is.
SANDBOX_HOST = "127.0.0.1"


@dataclass
class Certificates:
    """A CA and one server certificate for ``localhost`` and ``127.0.0.1``, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    spki_sha256: str  # base64 SHA-256 of the server key: Chromium's pin

    @classmethod
    def create(cls, directory: Path) -> Certificates:
        ca = trustme.CA(organization_name="Postern test CA")
        server = ca.issue_cert(HOST, SANDBOX_HOST)
        ca_file, cert_file, key_file = (
            directory / "ca.pem",
            directory / "server.pem",
            directory / "server-key.pem",
        )
        ca.cert_pem.write_to_path(str(ca_file))
        server.private_key_pem.write_to_path(str(key_file))
        cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
        leaf = x509.load_pem_x509_certificate(server.cert_chain_pems[0].bytes())
        spki = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(
            ca_file, cert_file, key_file, base64.b64encode(hashlib.sha256(spki).digest()).decode()
        )

    @property
    def chromium_args(self) -> list[str]:
        """Flags that make Chromium trust the server certificate (and only it)."""
        return [f"--ignore-certificate-errors-spki-list={self.spki_sha256}"]

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context
