"""Graph intelligence: time-respecting graph store, sampling, embeddings and GNNs.

- :mod:`vigil.graph.store`: the heterogeneous entity graph (accounts, devices, addresses;
  claims and what they share), built in bulk or one event at a time, read as of a moment.
- :mod:`vigil.graph.sampler`: k-hop neighbourhood samples of it as PyG subgraphs.
- :mod:`vigil.graph.embeddings`: DeepWalk node vectors, with an inductive fallback.
- :mod:`vigil.graph.nn`: GeniePath and the baselines it is judged by.

Nothing is imported here: the online path needs the store alone, and should not pay for
loading torch to get it.
"""
