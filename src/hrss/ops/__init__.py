"""Operations: backup and restore of the store and the kept state (`hrss db backup|restore`)."""
