"""The intake benchmark's results, their derived figures, and how they are printed: per phase,
then the summary against the targets."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.integrations.ratelimit import LIMITS
from bench.drain import Drained, describe_drain
from bench.lazada import Push
from bench.load import Run, ms, percentile

if TYPE_CHECKING:
    from bench.intake import Options

TARGET_RATE = 300.0
TARGET_P99_S = 0.050
TARGET_RATIO = 0.5
CLIENT_BOUND_SHARE = 0.6  # load generator CPU above which a closed-loop figure is client-bound
LAZADA_CALLS_PER_SYNC = 2  # /order/get and /order/items/get


@dataclass
class PhaseAResult:
    run: Run
    drained: Drained
    calls: int
    inboxed: int
    to_stored: list[float]


@dataclass
class BRound:
    bare: Run
    ours: Run
    pushes: list[Push]

    @property
    def ratio(self) -> float:
        return self.ours.rate / self.bare.rate if self.bare.rate > 0 else math.nan


@dataclass
class PhaseBResult:
    rounds: list[BRound]
    drained: Drained
    calls: int
    inboxed: int

    @property
    def ours_rate(self) -> float:
        return statistics.median(r.ours.rate for r in self.rounds)

    @property
    def bare_rate(self) -> float:
        return statistics.median(r.bare.rate for r in self.rounds)

    @property
    def ratio(self) -> float:
        """Of the medians: a round that the machine slowed down moves neither."""
        return self.ours_rate / self.bare_rate if self.bare_rate > 0 else math.nan

    @property
    def acked(self) -> int:
        return sum(len(r.ours.acked) for r in self.rounds)

    def spooled(self) -> int:
        return sum(r.ours.answered("spooled") for r in self.rounds)

    def cpu_per_push(self, side: str) -> dict[str, float]:
        """Seconds of CPU per acked push, per process group, over all rounds."""
        runs = [r.bare if side == "bare" else r.ours for r in self.rounds]
        acked = max(1, sum(len(run.acked) for run in runs))
        groups = {group for run in runs for group in run.cpu}
        return {
            group: sum(run.cpu.get(group, 0.0) * run.elapsed for run in runs) / acked
            for group in sorted(groups)
        }


def count_inboxed(run: Run, pushes: Sequence[Push], drained: Drained) -> int:
    """How many pushes we got a 200 for have a row in external_events."""
    acked = {
        push.key for push, sample in zip(pushes, run.samples, strict=True) if sample.status == 200
    }
    return sum(1 for key in acked if key in drained.inbox_states)


def push_to_stored(run: Run, pushes: Sequence[Push], drained: Drained) -> tuple[list[float], int]:
    """Seconds from sending each acked push to its line's status being stored.

    A line can be stored before its own push is sent: one fetch stores the whole order, so
    the order's first push may bring its later lines in. Those count as 0 and are reported.
    """
    delays: list[float] = []
    early = 0
    for push, sample in zip(pushes, run.samples, strict=True):
        stored = drained.stored_at.get(push.key)
        if sample.status != 200 or stored is None:
            continue
        delay = stored - sample.sent_at
        early += delay < 0
        delays.append(max(0.0, delay))
    return delays, early


def describe_rate_limit(options: Options) -> str:
    """What phase A asks of each seller's Lazada rate limit in the service."""
    rate, burst = LIMITS["lazada"]
    per_seller = options.rate / options.items * LAZADA_CALLS_PER_SYNC / options.sellers
    verdict = "fine" if per_seller <= rate / 2 else "TOO CLOSE: raise --sellers"
    return (
        f"the service paces Lazada calls at {rate:g}/s per seller (burst {burst:g}); phase A "
        f"needs up to {per_seller:.2f}/s per seller over {options.sellers} sellers: {verdict}"
    )


def print_phase_a(result: PhaseAResult, sent: int, by_api: Mapping[str, int], early: int) -> None:
    run = result.run
    print(f"  pushes sent        {sent}  (outcomes: {run.outcomes()})")
    print(f"  acked (HTTP 200)   {len(run.acked)}   failed {run.failed}")
    print(f"  achieved rate      {run.rate:.1f} acked/s over {run.elapsed:.2f}s", end="")
    print(f"  (worst lag behind schedule {ms(run.max_lag)})")
    print(
        f"  ack latency        p50 {ms(run.latency(50))}  p99 {ms(run.latency(99))}  "
        f"max {ms(run.max_latency)}"
    )
    delays = result.to_stored
    print(
        f"  push → stored      p50 {ms(percentile(delays, 50))}  p99 {ms(percentile(delays, 99))}"
        f"  max {ms(max(delays, default=math.nan))}  ({early} lines were stored before their own"
        " push was sent: counted as 0)"
    )
    print(
        f"  Lazada calls       {result.calls} = {result.calls / sent:.2f} per push  "
        f"({', '.join(f'{api} {n}' for api, n in sorted(by_api.items())) or 'none'})"
    )
    print(f"  stored: {result.inboxed}/{len(run.acked)} acked pushes are in external_events")
    print(f"  {describe_drain(result.drained, sent)}")


def print_phase_b(result: PhaseBResult, sent: int) -> None:
    for number, r in enumerate(result.rounds, start=1):
        print(
            f"  round {number}: bare {r.bare.rate:7.1f} req/s (p99 {ms(r.bare.latency(99))}), "
            f"ours {r.ours.rate:7.1f} req/s (p99 {ms(r.ours.latency(99))}, outcomes: "
            f"{r.ours.outcomes()}), ratio {r.ratio:.2f}"
        )
    print(
        f"  median             bare {result.bare_rate:.1f} req/s, ours {result.ours_rate:.1f} "
        f"req/s, ratio {result.ratio:.2f}"
    )
    for side, name in (("bare", "bare endpoint"), ("ours", "our webhook")):
        per_push = result.cpu_per_push(side)
        text = ", ".join(f"{group} {seconds * 1000:.2f} ms" for group, seconds in per_push.items())
        print(f"  CPU per acked push, {name}: {text}")
    print(f"  Lazada calls       {result.calls} = {result.calls / sent:.2f} per push")
    print(f"  stored: {result.inboxed}/{result.acked} acked pushes are in external_events")
    print(f"  {describe_drain(result.drained, sent)}")


def stored_ok(run: Run, pushes: Sequence[Push], drained: Drained, inboxed: int) -> bool:
    acked = [p.key for p, s in zip(pushes, run.samples, strict=True) if s.status == 200]
    return inboxed == len(acked) and all(key in drained.stored_at for key in acked)


def print_summary(options: Options, a: PhaseAResult, b: PhaseBResult, a_pushes: list[Push]) -> None:
    a_ok = (
        a.run.latency(99) < TARGET_P99_S
        and a.run.failed == 0
        and options.rate >= TARGET_RATE
        and a.run.rate >= 0.95 * options.rate
    )
    ratio_ok = b.ratio >= TARGET_RATIO
    b_pushes = [push for r in b.rounds for push in r.pushes]
    b_acked = [
        push.key
        for r in b.rounds
        for push, sample in zip(r.pushes, r.ours.samples, strict=True)
        if sample.status == 200
    ]
    all_stored = (
        stored_ok(a.run, a_pushes, a.drained, a.inboxed)
        and b.inboxed == len(b_acked)
        and all(key in b.drained.stored_at for key in b_acked)
    )
    rows = [
        (
            f"p99 ack < {TARGET_P99_S * 1000:.0f} ms at {TARGET_RATE:.0f} pushes/s",
            f"p99 {ms(a.run.latency(99))} at {a.run.rate:.0f}/s, {a.run.failed} failed",
            a_ok,
        ),
        (
            f"throughput >= {TARGET_RATIO}x bare endpoint",
            f"{b.ratio:.2f}x (medians of {len(b.rounds)}: {b.ours_rate:.0f} vs "
            f"{b.bare_rate:.0f} req/s)",
            ratio_ok,
        ),
        (
            "every accepted push stored",
            f"A {a.inboxed}/{len(a.run.acked)}, B {b.inboxed}/{b.acked} in inbox; "
            f"lines A {len(a.drained.stored_at)}/{len(a_pushes)}, "
            f"B {len(b.drained.stored_at)}/{len(b_pushes)}",
            all_stored,
        ),
    ]
    print()
    print("=== summary " + "=" * 88)
    print(
        f"phase A: {len(a_pushes)} pushes at {options.rate:.0f}/s → {a.run.rate:.1f} accepted/s; "
        f"ack p50 {ms(a.run.latency(50))} p99 {ms(a.run.latency(99))}; push→stored p50 "
        f"{ms(percentile(a.to_stored, 50))} p99 {ms(percentile(a.to_stored, 99))}; "
        f"{a.calls / len(a_pushes):.2f} Lazada calls/push; acks spooled {a.run.answered('spooled')}"
    )
    print(
        f"phase B: c={options.concurrency}, {len(b.rounds)} rounds: ours {b.ours_rate:.0f} req/s, "
        f"bare {b.bare_rate:.0f} req/s (medians), ratio {b.ratio:.2f} (rounds: "
        f"{', '.join(f'{r.ratio:.2f}' for r in b.rounds)}); "
        f"{b.calls / len(b_pushes):.2f} Lazada calls/push; acks spooled {b.spooled()}"
    )
    print(f"{'target':<42} {'measured':<62} result")
    for target, measured_text, ok in rows:
        print(f"{target:<42} {measured_text:<62} {'PASS' if ok else 'FAIL'}")
    if options.rate < TARGET_RATE:
        print(f"(phase A ran at {options.rate:.0f}/s, below the {TARGET_RATE:.0f}/s target rate)")
    client_share = max(r.bare.cpu.get("bench", 0.0) for r in b.rounds)
    print(
        f"load generator: {options.client}, in this process, on the same 2 cores; it used "
        f"{client_share:.0%} of a core during the bare run"
        + (
            " — the bare figure is client-bound, try --client raw"
            if client_share > CLIENT_BOUND_SHARE
            else ""
        )
    )
