"""Proof of assets: wallets, ownership signatures and on-chain balances at the snapshot height."""
