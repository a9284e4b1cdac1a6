"""The white-label mall: each partner's branded store for its members, entered from the
partner's own app by a one-time launch (no passwords), served at /m/<slug>/ over the same
services as the API (catalog, checkout, entitlements)."""
