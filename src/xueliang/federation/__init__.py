"""Federation: village, township and county nodes joined by NATS JetStream leaf links (issue 18).

A child enrolls at its parent with a one-time code (enroll.py), after which both know each other's
Ed25519 key; every message between them is a signed envelope (envelope.py) carried by the nodes' own
nats-servers (nats.py), fed from a transactional outbox (outbox.py) and applied once (inbox.py)."""
