package bootstrap

// GuestProtocol names the contract between the manager and the paddock-guest
// agent baked into a fast image (init's kernel flags, the boot settings,
// identity over virtio-serial after a snapshot restore). The agent carries
// the string in its binary and the image builder looks for it, so an image is
// never built from an agent older than the manager: such a VM would boot and
// then fail in a way that points nowhere near the stale binary. Bump the
// number whenever either side changes what it expects of the other.
const GuestProtocol = "paddock-guest-protocol=2"
