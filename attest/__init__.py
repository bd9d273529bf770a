"""Device attestation for mobile apps: Android Key Attestation, Apple App Attest, and the
Client Attestation JWTs an OAuth authorization server consumes."""

__version__ = "0.1.0"
