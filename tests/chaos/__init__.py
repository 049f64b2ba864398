"""A seeded, replayable, time-bounded randomized fault campaign against the pod provider.

Each seed draws a lifecycle (`plan`): create, then updates (env changes, `running` false and true),
replacements with a namesake still running, refreshes, out-of-band stops, terminates and crashes, deletes, and
a final delete; each step meets 0–3 faults (`faults`): creates answered with an error or not at all while the
pod is made never, now or later; list and get outages; runs of 429; a proxy's HTML 502; dropped
connections and timeouts; 400s that echo the request's env; system logs that quote it; DELETE 500s; pods that
end in ERROR or EXITED, start slowly, or stick in STARTING; hosts below the CUDA floor; no capacity, and
capacity held by a create that lands late. The lifecycle runs through the SDK's real provider host against
a fresh RunPod fake (`lifecycle`), and after every call the promises are checked from the fake's own ledger
(`checks`). Timings come from the provider's own knobs, scaled down (`knobs`).

    python -m tests.chaos --seeds 300 [--first 0] [--jobs 2]   # a summary; exit 1 if a promise broke
    python -m tests.chaos --seed 17 --verbose                  # replay one seed, step by step

A seed fixes every step and fault; only timing differs between runs.
"""
