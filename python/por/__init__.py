"""por: Proof of Reserves.

A custodian proves, per asset, that its reserves cover what it owes its customers:

* :mod:`por.snapshot`    - a round's inputs (customer balances, prices, haircuts, metadata)
* :mod:`por.amounts`     - the asset registry and exact integer amounts
* :mod:`por.liabilities` - the zero-knowledge proof of liabilities (Plonky3, in ``por._core``)
* :mod:`por.assets`      - proof of assets: wallet ownership and on-chain balances
* :mod:`por.cli`         - the ``por`` command
"""

__version__ = "0.1.0"
