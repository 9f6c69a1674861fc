"""Staff digests: building them from stored tips, and sending them so that none is lost or repeated."""
