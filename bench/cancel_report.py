"""The cancellation benchmark's results and how they are printed: per pass, the marketplace
calls explained, what the service's per-account pacing implies, and the summary tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.load import Run, ms

LAZADA_SYNC = ("/order/get", "/order/items/get")  # one order sync: GetOrder + GetOrderItems


@dataclass
class Pass:
    run: Run
    calls: int  # marketplace calls, from the reset before the pass to the end of its follow-up
    by_api: dict[str, int]
    idle_s: float  # from the last answer until the follow-up work was done
    stuck: int = 0  # pushes left pending with no job queued (waiting for the sweeper)


@dataclass
class Result:
    marketplace: str
    accounts: int
    cancel: Pass
    pushes: int = 0  # Lazada: pushes the sandbox sent during the cancel pass
    pushes_acked: int = 0
    resyncs: int = 0  # Lazada: cancellations whose in-request re-sync succeeded
    replay: Pass | None = None
    same_ids: int = 0  # replays answered with the first answer's cancellation id
    pacing: str = ""  # what the service's per-account pacing implies
    warmup_stuck: int = 0  # pushes of the warm-up left for the sweeper

    @property
    def n(self) -> int:
        return len(self.cancel.run.samples)

    @property
    def per_cancel(self) -> float:
        return self.cancel.calls / self.n

    def cancel_ok(self) -> bool:
        run = self.cancel.run
        return all(s.status == 201 and s.ack == "succeeded" for s in run.samples)

    def replay_ok(self) -> bool:
        replay = self.replay
        return (
            replay is not None
            and all(s.status == 200 and s.ack == "succeeded" for s in replay.run.samples)
            and replay.calls == 0
            and self.same_ids == self.n
        )

    def cpu_per_cancel(self, group: str) -> float:
        """CPU seconds of ``group`` per cancellation during the cancel pass."""
        run = self.cancel.run
        return run.cpu.get(group, 0.0) * run.elapsed / max(1, self.n)


def describe_pass(run: Run) -> str:
    return (
        f"{run.rate:.1f}/s ({len(run.acked)} of {len(run.samples)} answered {run.ok_status} in "
        f"{run.elapsed:.2f}s); latency p50 {ms(run.latency(50))}, p99 {ms(run.latency(99))}, "
        f"max {ms(run.max_latency)}; outcomes: {run.outcomes()}"
    )


def _by_api(by_api: dict[str, int], n: int) -> str:
    return ", ".join(f"{api} {count / n:.2f}" for api, count in sorted(by_api.items())) or "none"


def lazada_followups(result: Result) -> int:
    """Order syncs after the answer: every GetOrder beyond the in-request re-syncs."""
    return result.cancel.by_api.get(LAZADA_SYNC[0], 0) - result.resyncs


def describe_calls(result: Result) -> list[str]:
    n, calls = result.n, result.cancel.calls
    lines = [f"{calls} calls = {result.per_cancel:.2f} per cancellation: "]
    lines[0] += _by_api(result.cancel.by_api, n)
    if result.marketplace != "lazada":
        return lines
    followups = lazada_followups(result)
    in_request = calls - len(LAZADA_SYNC) * followups
    lines.append(
        f"in the request: {in_request / n:.2f} per cancellation: GetOrderItems (are the items "
        "cancellable?), OrderCancelValidate (reasons), InitReverseOrderCancel, then a re-sync of "
        f"the order (GetOrder + GetOrderItems) so that our copy shows it cancelled at once "
        f"({result.resyncs}/{n} re-syncs succeeded)"
    )
    lines.append(
        f"after the answer: the sandbox pushed {result.pushes} 'canceled' notifications (one per "
        f"item, {result.pushes_acked} acked) and the worker synced {followups} orders again for "
        f"them (GetOrder + GetOrderItems): {len(LAZADA_SYNC) * followups / n:.2f} per "
        "cancellation, a second fetch of what the re-sync already stored"
    )
    if result.cancel.stuck:
        lines.append(
            f"{result.cancel.stuck} of those pushes were left pending with no job queued: the "
            "sweeper syncs them 60-70 s later, and those calls (2 per order) are not counted here"
        )
    return lines


def _rate_text(rate: float) -> str:
    return f"{rate:g}/s" if rate >= 1 else f"{rate * 3600:.0f}/h"


def describe_pacing(result: Result, orders: int, limit: tuple[float, float]) -> str:
    """What the service's per-account token bucket implies for these cancellations."""
    rate, burst = limit
    per_cancel = max(result.per_cancel, 1e-9)
    per_account = math.ceil(orders / result.accounts)
    calls = per_account * per_cancel
    text = (
        f"pacing: {_rate_text(rate)} per account, burst {burst:g}; at {per_cancel:.2f} calls per "
        f"cancellation one account sustains {rate / per_cancel:.2f} cancellations/s "
        f"({result.accounts} accounts: {result.accounts * rate / per_cancel:.0f}/s); "
        f"each account here gets {per_account} = {calls:.1f} calls: "
    )
    if calls <= burst:
        text += "within the burst, so no call waits"
    else:
        rate_seen = result.cancel.run.rate
        gap = result.accounts / rate_seen if rate_seen > 0 else math.inf
        needed = per_cancel / rate  # seconds of tokens one cancellation needs
        verdict = (
            "so they rarely wait" if gap >= needed else "so calls wait and the pacing sets the rate"
        )
        text += (
            f"beyond the burst, at least {(calls - burst) / rate:.1f}s of pacing per account; "
            f"the round-robin order spaces an account's cancellations ~{gap:.1f}s apart (one "
            f"needs {needed:.1f}s of tokens), {verdict}"
        )
    if rate < 1:
        text += (
            f"; one account alone: {burst:g} calls at once, then one per {1 / rate:.1f}s "
            f"({rate * 3600 / per_cancel:.0f} cancellations an hour)"
        )
    return text


def print_summary(
    orders: int, concurrency: int, per_account: int, results: Sequence[Result]
) -> None:
    print()
    print(
        f"=== summary: {orders} cancellations per marketplace, {concurrency} concurrent, "
        f"{per_account} orders per account " + "=" * 20
    )
    print("cancel pass (unique Idempotency-Key each):")
    print(
        f"  {'marketplace':<11} {'accounts':>8} {'cancel/s':>9} {'p50':>10} {'p99':>10}  "
        f"{'calls/cancel':>12}  {'CPU/cancel: service, postgres':>30}  {'others':>6}  outcomes"
    )
    for r in results:
        run = r.cancel.run
        cpu = ", ".join(f"{r.cpu_per_cancel(g) * 1000:.1f} ms" for g in ("service", "postgres"))
        print(
            f"  {r.marketplace:<11} {r.accounts:>8} {run.rate:>9.1f} {ms(run.latency(50)):>10} "
            f"{ms(run.latency(99)):>10}  {r.per_cancel:>12.2f}  {cpu:>30}  "
            f"{run.cpu.get('other', 0.0):>6.0%}  {run.outcomes()}"
        )
    print("  (others: CPU of every other process on the machine during the pass, share of a core)")
    print("replay pass (the same requests and keys again):")
    print(
        f"  {'marketplace':<11} {'req/s':>8} {'p50':>10} {'p99':>10}  {'calls':>6}  "
        f"{'same id':>9}  outcomes"
    )
    for r in results:
        if r.replay is None:
            continue
        run = r.replay.run
        print(
            f"  {r.marketplace:<11} {run.rate:>8.1f} {ms(run.latency(50)):>10} "
            f"{ms(run.latency(99)):>10}  {r.replay.calls:>6}  {f'{r.same_ids}/{r.n}':>9}  "
            f"{run.outcomes()}"
        )
    print("marketplace calls per cancellation, by API (cancel pass and its follow-up):")
    for r in results:
        print(f"  {r.marketplace:<11} {_by_api(r.cancel.by_api, r.n)}")
        if r.marketplace == "lazada":
            followups = lazada_followups(r)
            print(
                f"  {'':<11} = {(r.cancel.calls - 2 * followups) / r.n:.2f} in the request + "
                f"{2 * followups / r.n:.2f} after it (syncs for {r.pushes} pushes)"
            )
    print("what the service's per-account pacing (app/integrations/ratelimit/) implies:")
    for r in results:
        print(f"  {r.marketplace:<11} {r.pacing}")
    checks = [
        ("every cancellation answered 201 succeeded", all(r.cancel_ok() for r in results)),
        (
            "every replay answered 200 succeeded, same id, no marketplace call",
            all(r.replay_ok() for r in results),
        ),
    ]
    lazada = [r for r in results if r.marketplace == "lazada"]
    if lazada:
        r = lazada[0]
        checks.append(
            (
                f"every Lazada push handled without the sweeper (left pending: warm-up "
                f"{r.warmup_stuck}, cancel pass {r.cancel.stuck})",
                r.warmup_stuck == 0 and r.cancel.stuck == 0,
            )
        )
    for check, ok in checks:
        print(f"{check:<80} {'PASS' if ok else 'FAIL'}")
