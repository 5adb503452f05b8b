"""The scaling simulation's model of KEDA and the HPA, on traces small enough to reason about by hand."""

from __future__ import annotations

from bench.scaling_sim import JobCost, Policy, Upload, bursty_trace, choose, simulate, sweep

COST = JobCost(overhead_seconds=10, seconds_per_source_second=1.0)


def test_one_upload_on_the_standing_worker_is_ready_after_its_work() -> None:
    outcome = simulate([Upload(arrival=5, source_seconds=50)], COST, Policy())

    assert outcome.ready_seconds == [60]
    assert outcome.peak_workers == 1 and outcome.restarted_jobs == 0


def test_one_worker_takes_a_burst_one_job_after_another() -> None:
    burst = [Upload(arrival=0, source_seconds=20) for _ in range(4)]

    outcome = simulate(burst, COST, Policy(max_replicas=1))

    assert sorted(outcome.ready_seconds) == [30, 60, 90, 120]
    assert outcome.worker_seconds >= 120


def test_the_pool_grows_no_faster_than_the_scale_up_policy_and_pods_start_late() -> None:
    burst = [Upload(arrival=0, source_seconds=600) for _ in range(20)]
    policy = Policy(max_replicas=20, scale_up_pods=5, scale_up_period=30, pod_start_seconds=30)

    outcome = simulate(burst, COST, policy)

    # 1 standing worker + 5 pods at t=0 (working from t=30), 5 more at t=30 (from t=60), ...
    ready = sorted(outcome.ready_seconds)
    assert ready[0] == 610
    assert ready[1:6] == [640] * 5 and ready[6:11] == [670] * 5
    assert outcome.peak_workers == 20


def test_a_faster_scale_down_costs_fewer_worker_minutes_for_the_same_waits() -> None:
    trace = bursty_trace(100, 5, seed=3)
    slow, fast = (
        simulate(trace, COST, Policy(max_replicas=16, **rule))
        for rule in (
            {"scale_down_pods": 1, "scale_down_period": 120, "scale_down_window": 600},
            {"scale_down_percent": 50, "scale_down_period": 60, "scale_down_window": 300},
        )
    )

    assert fast.worker_seconds < slow.worker_seconds
    assert fast.percentile(0.95) <= slow.percentile(0.95) * 1.05


def test_the_choice_is_the_cheapest_rule_that_meets_the_target() -> None:
    trace = bursty_trace(60, 5, seed=2)
    outcomes = sweep(trace, COST, [1, 4, 16], Policy())

    chosen = choose(outcomes, p95_target_minutes=30)

    assert chosen.percentile(0.95) <= 30 * 60
    assert all(o.worker_seconds >= chosen.worker_seconds for o in outcomes if o.percentile(0.95) <= 30 * 60)
