"""Two Flower ``Grid`` implementations: a metering wrapper and an in-process loopback.

* :class:`MeteredGrid` wraps whatever grid the ServerApp is given (Flower's gRPC grid in a
  deployment, the loopback below in a simulation) and counts the serialized bytes of every
  message each way, and the wall time, per round.
* :class:`LoopbackGrid` runs the ClientApps in this process, one :class:`Context` per node, and
  passes every message through Flower's protobuf serialization both ways, so a client never
  shares an object with the server and the bytes counted are the bytes a SuperLink would carry.
  It needs no Ray and no sockets: ``vigil federated simulate`` and the tests run on it. What the
  server receives is exactly what :attr:`LoopbackGrid.transcript` records.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from uuid import uuid4

from flwr.app import Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.proto.message_pb2 import Message as ProtoMessage  # pylint: disable=E0611
from flwr.serverapp import Grid
from flwr.supercore.run import Run

SERVER_NODE_ID = SUPERLINK_NODE_ID


def wire_size(message: Message) -> int:
    return len(message_to_proto(message).SerializeToString())


@dataclass
class RoundTraffic:
    messages: int = 0
    bytes_down: int = 0  # server -> clients
    bytes_up: int = 0  # clients -> server
    first: float = field(default_factory=time.perf_counter)
    last: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.last - self.first, 0.0)


class MeteredGrid(Grid):
    """Delegates to ``inner``; tallies traffic under the round each message belongs to."""

    def __init__(self, inner: Grid):
        self.inner = inner
        #: (round label, message kind: train / evaluate / query) -> traffic
        self.rounds: dict[tuple[str, str], RoundTraffic] = {}
        self._round_of: dict[str, tuple[str, str]] = {}

    def _traffic(self, key: tuple[str, str]) -> RoundTraffic:
        if key not in self.rounds:
            self.rounds[key] = RoundTraffic()
        return self.rounds[key]

    def traffic(self, label: str, kind: str) -> RoundTraffic:
        return self.rounds.get((label, kind), RoundTraffic(first=0.0))

    @staticmethod
    def _label(message: Message) -> str:
        """The round a message belongs to: its group id, else the new-API config's round."""
        if message.metadata.group_id:
            return message.metadata.group_id
        config = message.content.config_records.get("config") if message.has_content() else None
        if config is not None and "server-round" in config:
            return str(config["server-round"])
        return "setup"

    def set_run(self, run: Run) -> None:
        self.inner.set_run(run)

    @property
    def run(self) -> Run:
        return self.inner.run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None) -> Message:
        return self.inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self.inner.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        messages = list(messages)
        sizes = [wire_size(m) for m in messages]
        keys = [(self._label(m), m.metadata.message_type.split(".")[0]) for m in messages]
        for key in keys:  # the clock starts before the first message of a round goes out
            self._traffic(key)
        ids = list(self.inner.push_messages(messages))
        for key, size, message_id in zip(keys, sizes, ids, strict=True):
            traffic = self._traffic(key)
            traffic.messages += 1
            traffic.bytes_down += size
            self._round_of[message_id] = key
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        replies = list(self.inner.pull_messages(message_ids))
        now = time.perf_counter()
        for reply in replies:
            key = self._round_of.pop(reply.metadata.reply_to_message_id, ("setup", "unknown"))
            traffic = self._traffic(key)
            traffic.messages += 1
            traffic.bytes_up += wire_size(reply)
            traffic.last = now
        return replies

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        ids = set(self.push_messages(messages))
        replies: list[Message] = []
        end = None if timeout is None else time.time() + timeout
        while ids and (end is None or time.time() < end):
            got = list(self.pull_messages(ids))
            replies.extend(got)
            ids -= {m.metadata.reply_to_message_id for m in got}
            if ids and not got:
                time.sleep(0.05)
        return replies


@dataclass(frozen=True)
class Delivery:
    """One message as it crossed the wire: its direction, node, type and serialized bytes."""

    direction: str  # "down" (server -> node) or "up" (node -> server)
    node_id: int
    message_type: str
    group_id: str
    payload: bytes


class LoopbackGrid(Grid):
    """ClientApps in this process, one node each, every message serialized both ways."""

    def __init__(
        self,
        client_app: ClientApp,
        node_configs: Mapping[int, Mapping[str, object]],
        run_config: Mapping[str, object],
        run_id: int = 1,
        keep_transcript: bool = False,
    ):
        self.client_app = client_app
        self._run = Run.create_empty(run_id)
        self.contexts = {
            node_id: Context(
                run_id=run_id,
                node_id=node_id,
                node_config=dict(config),
                state=RecordDict(),
                run_config=dict(run_config),
            )
            for node_id, config in node_configs.items()
        }
        self._replies: dict[str, Message] = {}
        self.keep_transcript = keep_transcript
        self.transcript: list[Delivery] = []
        self.bytes = defaultdict(int)

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            meta = message.metadata.__dict__
            meta["_message_id"] = uuid4().hex
            meta["_run_id"] = self._run.run_id
            meta["_src_node_id"] = SERVER_NODE_ID
            node = message.metadata.dst_node_id
            if node not in self.contexts:
                raise KeyError(f"no node {node} in this loopback federation")
            delivered = self._carry(message, "down", node)
            reply = self.client_app(delivered, self.contexts[node])
            reply.metadata.__dict__["_message_id"] = uuid4().hex
            self._replies[message.metadata.message_id] = self._carry(reply, "up", node)
            ids.append(message.metadata.message_id)
        return ids

    def _carry(self, message: Message, direction: str, node: int) -> Message:
        payload = message_to_proto(message).SerializeToString()
        self.bytes[direction] += len(payload)
        if self.keep_transcript:
            meta = message.metadata
            self.transcript.append(
                Delivery(direction, node, meta.message_type, meta.group_id, payload)
            )
        return message_from_proto(ProtoMessage.FromString(payload))

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self._replies.pop(i) for i in list(message_ids) if i in self._replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))
