"""An engine harness: the real `Engine` over a FakeTransport answered by simulated docker hosts.

`docker.py` holds a host's state, `steps.py` answers and interprets the engine's steps, `lab.py` drives
scenarios (`SimLab`). See tests/unit/test_engine_scenarios.py for its use."""
