"""The partner account and billing plan: what a partner pays, as orders and invoices post it."""
