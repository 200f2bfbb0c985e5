"""listen-conformance: an executable specification of Node.js's server.listen()."""
__version__ = "0.1.0"
