"""The embed postMessage protocol's version (docs/embed.md): bumped when a message changes shape."""

PROTOCOL_VERSION = 1
