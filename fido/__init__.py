"""Passkeys (WebAuthn): registration, authentication, management and email-backed recovery."""
