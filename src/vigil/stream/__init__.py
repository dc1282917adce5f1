"""Payments on NATS JetStream: the subjects they are published on, and the worker that
decides them (``vigil worker``)."""
