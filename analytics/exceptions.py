class BeaconRejected(ValueError):
    """A batch the server will not count, with the reason the client gets (a 400)."""
