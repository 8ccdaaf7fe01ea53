"""Real-name ledgers (实名制台账): person-level micro-data, its identifiers and masking."""
