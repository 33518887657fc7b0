"""The account events of every change (written to the outbox in the change's own transaction) and their
publishing to the event bus, balance-low alerts included."""
