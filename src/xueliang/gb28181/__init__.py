"""GB/T 28181: SIP device access (registrar, keepalive, catalog, live INVITE) and the cascade
to an upper platform (issue 19)."""
