"""Console scripts of minerf_ns."""
