"""Graph intelligence: time-respecting graph store, sampling, embeddings and GNNs."""
