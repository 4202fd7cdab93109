"""6. The Merkle log: leaves appended per second, a head signed, and `lonewatch verify`'s
whole-store check over 100,000 stored events on PostgreSQL (docs/security.md).

The appender follows the store after the fact (service/workers/merkle_log.py), so its
rate must stay above the rate events can be stored (the ingest benchmark's target,
10,000 events/s) or the unsigned tail would grow without end.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from benchmarks.common import Figure, Result, own_database, write_directory
from benchmarks.rebuild import generate
from service.adapters.directory_file import load_directory
from service.adapters.event_store import eventsourcing_env
from service.adapters.merkle_log import MerkleLog
from service.adapters.signing import SigningKey
from service.application.lonewatch import Lonewatch
from service.clock import FakeClock
from service.records.proofs import export_proofs
from service.records.verification import verify_store

TARGET_APPEND_RATE = 10_000.0
TARGET_VERIFY_SECONDS = 30.0
EXPORT_EVENTS = 50
MORE = 1_000


def run(quick: bool) -> Result:
    total = 20_000 if quick else 100_000
    result = Result("merkle", quick)
    key = SigningKey.generate()
    with (
        own_database("merkle") as url,
        tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp,
    ):
        app = Lonewatch(eventsourcing_env(url), FakeClock())
        try:
            app.import_directory(
                load_directory(write_directory(Path(tmp) / "d.yaml", devices=1_000))
            )
            generate(app, total, 1_000)
            head = app.recorder.max_notification_id() or 0
            merkle = MerkleLog(app.recorder)
            t0 = time.perf_counter()
            size = merkle.catch_up()
            append_seconds = time.perf_counter() - t0
            assert size == head
            t0 = time.perf_counter()
            signed = merkle.sign(key, 1_800_000_000_000)
            sign_seconds = time.perf_counter() - t0
            assert signed is not None
            t0 = time.perf_counter()
            verdict = verify_store(merkle, trusted=[key.public])
            verify_seconds = time.perf_counter() - t0
            assert verdict.ok, verdict.problems
            positions = list(range(head - EXPORT_EVENTS + 1, head + 1))
            t0 = time.perf_counter()
            proofs = export_proofs(merkle, positions)
            proof_seconds = time.perf_counter() - t0
            assert len(proofs["leaves"]) == EXPORT_EVENTS
            # The next export, after more was recorded: the tree is extended by the new
            # leaves only (service/records/proofs.py levels_under), not read again.
            app.recorder.insert_events(
                [StoredEvent(uuid4(), 1, "bench:Later", b"later") for _ in range(MORE)]
            )
            t0 = time.perf_counter()
            again = export_proofs(merkle, positions, key=key, now=datetime.now(UTC))
            again_seconds = time.perf_counter() - t0
            assert again["head"]["tree_size"] == head + MORE
        finally:
            app.close()
    result.add(
        Figure("leaves appended/s", size / append_seconds, "leaves/s", TARGET_APPEND_RATE),
        Figure(
            f"verify {head:,} events", verify_seconds, "s", TARGET_VERIFY_SECONDS, at_least=False
        ),
        Figure("sign a head", sign_seconds * 1000, "ms"),
        Figure(f"proofs for a {EXPORT_EVENTS}-event export", proof_seconds, "s"),
        Figure(
            f"the same export after {MORE:,} more events (caught up, signed, tree extended)",
            again_seconds,
            "s",
        ),
    )
    result.details = {"events": head, "append_seconds": append_seconds}
    return result
