import os

from hypothesis import HealthCheck, settings

# A bounded profile keeps `make test` well inside its time budget, and a fixed
# seed makes its verdict depend on the code, not on the draw; `dev` draws
# fresh examples each run and digs deeper (HYPOTHESIS_PROFILE=dev).
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
