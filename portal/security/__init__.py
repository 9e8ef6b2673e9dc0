"""Security primitives: small modules, each with its own tests."""
