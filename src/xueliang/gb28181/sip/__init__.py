"""Our own small SIP (RFC 3261) subset for GB/T 28181: messages, digest, transactions, transports."""
