"""Data shipped with donorflow: the annual figures the demo year reproduces."""
