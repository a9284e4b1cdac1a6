"""Exports: CSV files of a partner's orders, deliveries, account ledger and members, built in
the background, kept 7 days, and sent on a daily or weekly schedule as links by mail."""
