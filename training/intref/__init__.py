"""The integer reference of record: reference.py runs deit-micro's exported integer model
exactly as the accelerator and the C++ functional model do (bit-exact with them); fast.py
swaps in exact BLAS products and lookup tables for large sweeps, with identical results."""
