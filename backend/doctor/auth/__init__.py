"""Who may use the doctor service: accounts, signed tokens, guessing protection and the audit log."""
