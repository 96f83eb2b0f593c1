"""Video through the parent (issue 18): a child node's cameras played, recorded and re-served at its
parent as ordinary channels, over connections the child dials out (docs/federation.md, "Video through
the parent"; ADR 0011).

- `wire`: the binary frames of a relayed stream (codec parameters, one fMP4 fragment per frame).
- `handshake`: what each side signs, so both ends of a link prove their node key.
- `parent`: the parent's side: the children's control links, the `node://` source scheme.
- `child`: the child's side: the dial-out control link, the subtree check, the audit, the uplinks.
- `runtime`: what `create_app` installs."""
