"""Sequence layer: a recurrent encoder of each account's payments, with per-account online state.

``SequenceBlock`` is the feature block the engine steps once per payment; ``encode_offline``
computes the same values for a whole frame with the batched training code.
"""

from vigil.sequence.block import SequenceBlock
from vigil.sequence.config import EncoderConfig, TrainConfig
from vigil.sequence.offline import encode_offline

__all__ = ["EncoderConfig", "SequenceBlock", "TrainConfig", "encode_offline"]
