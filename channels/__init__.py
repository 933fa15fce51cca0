"""The channels, one module or package each behind the protocol of base.py; sandbox/ holds
the local simulators. Nothing here imports bot/, and no channel imports another."""
