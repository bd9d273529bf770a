"""The HTTP service: the only part of `attest` that touches the network or a database."""
